/**
 * The Liquibase options whose values are local paths (the changelog, the search path, the defaults
 * file), found the way the engine's parser finds them (`--changelog-file`, `--changeLogFile`,
 * `--changelog_file`; `--name=value` or `--name value`): the client lists what to upload from them,
 * the engine moves them into an uploaded tree.
 *
 * @module
 */

/** A Liquibase option whose value names local files. */
export type LbPathOption = "changelog-file" | "search-path" | "defaults-file";

const OPTIONS = new Map<string, LbPathOption>([
  ["changelogfile", "changelog-file"],
  ["searchpath", "search-path"],
  ["defaultsfile", "defaults-file"],
]);

/**
 * `args` with the value of each path option replaced by `map(option, value)`; the rest as it is.
 *
 * @example
 * ```ts
 * import { mapLbPathOptions } from "./lb_path_options.ts";
 * const args = mapLbPathOptions(["update", "--changeLogFile=db/a.xml"], (_option, value) => `/t/${value}`);
 * if (args[1] !== "--changeLogFile=/t/db/a.xml") throw new Error("unexpected");
 * ```
 */
export function mapLbPathOptions(
  args: readonly string[],
  map: (option: LbPathOption, value: string) => string,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") ? arg.slice(2, eq === -1 ? undefined : eq) : "";
    const option = OPTIONS.get(name.toLowerCase().replace(/[-_.]/g, ""));
    if (option === undefined) out.push(arg);
    else if (eq !== -1) out.push(`${arg.slice(0, eq + 1)}${map(option, arg.slice(eq + 1))}`);
    else {
      out.push(arg);
      const value = args[i + 1];
      if (value !== undefined) out.push(map(option, value));
      i++;
    }
  }
  return out;
}
