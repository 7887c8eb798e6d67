/**
 * Whether a psql or pgbench invocation opens files by relative paths (so it must run in the work dir).
 *
 * @module
 */

import { tokenize } from "../../../shared/tool_options.ts";

/** Options that name a file the tool opens (by name in shared/tool_options.ts). */
const FILE_OPTIONS = new Set(["file", "output", "log-file"]);
/** psql meta-commands that read or write files (relative to the working directory). */
const FILE_META_COMMANDS =
  /(^|[\s;])\\(i|ir|include|include_relative|copy|o|out|w|write|g|gx|s|lo_import|lo_export|cd)(\s|$)/m;

/**
 * Whether a tool invocation may open a file by a relative path (so it must run in the work dir): a
 * file option other than `-` (stdin), or a psql meta-command on files in a `-c` or the script. Any
 * other invocation can run anywhere.
 */
export function readsFiles(
  tool: "psql" | "pgbench",
  args: readonly string[],
  stdin: string | Uint8Array | undefined,
): boolean {
  const opensFile = tokenize(tool, args).some((token) =>
    token.kind === "option" && FILE_OPTIONS.has(token.option.name) && token.value !== null &&
    token.value !== "-"
  );
  if (opensFile) return true;
  if (tool === "pgbench") return false;
  const script = typeof stdin === "string"
    ? stdin
    : stdin === undefined
    ? ""
    : new TextDecoder().decode(stdin);
  return FILE_META_COMMANDS.test(script) || args.some((arg) => FILE_META_COMMANDS.test(arg));
}
