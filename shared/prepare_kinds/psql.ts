/**
 * The psql prepare kind (`prepare:psql`) outside the engine: its CLI text, its request, and the
 * client's side of it: `-f FILE` paths are made absolute against the caller's directory (the engine
 * may run elsewhere) and `-f -` is filled from the caller's stdin. The engine's side is
 * `engine/prepare/psql/`.
 *
 * @module
 */

import { resolve } from "node:path";
import { z } from "../deps.ts";
import { typed } from "../schemas/_typed.ts";
import { CommonRequestFields, ImageId, type PrepareRequestCommon } from "../schemas/prepare_request.ts";
import { renderToken, takesNextArg, tokenize } from "../tool_options.ts";
import { isUrlInput } from "../url_input.ts";
import type { PrepareKindSpec } from "./kind.ts";

const PsqlRequestSchema = z.strictObject({
  prepare_kind: z.literal("psql"),
  image_id: ImageId.optional(),
  psql_args: z.array(z.string()),
  stdin: z.string().optional(),
  ...CommonRequestFields,
});

/** `POST /v1/prepare-jobs` for psql steps. File paths in `psql_args` are absolute (the CLI resolves them). */
export interface PrepareJobRequestPsql extends PrepareRequestCommon {
  prepare_kind: "psql";
  psql_args: string[];
  stdin?: string | undefined;
}
/** `POST /v1/prepare-jobs` for psql steps. File paths in `psql_args` are absolute (the CLI resolves them). */
export const PrepareJobRequestPsql: z.ZodType<PrepareJobRequestPsql> = typed<PrepareJobRequestPsql>()(
  PsqlRequestSchema,
);

/**
 * Makes `-f FILE` paths absolute; says whether `-f -` asks for stdin.
 *
 * @example Resolve a relative script
 * ```ts
 * import { absolutizePsqlFiles } from "./psql.ts";
 * const { args, readsStdin } = absolutizePsqlFiles(["-q", "-f", "schema.sql"], "/work");
 * if (args.join(" ") !== "-q -f /work/schema.sql" || readsStdin) throw new Error("unexpected");
 * ```
 */
export function absolutizePsqlFiles(
  args: readonly string[],
  cwd: string,
): { args: string[]; readsStdin: boolean } {
  const result: string[] = [];
  let readsStdin = false;
  for (const token of tokenize("psql", args)) {
    if (token.kind === "option" && token.option.name === "file" && token.value !== null) {
      readsStdin ||= token.value === "-";
      // A URL goes as it is: the engine fetches it.
      const kept = token.value === "-" || isUrlInput(token.value);
      result.push("-f", kept ? token.value : resolve(cwd, token.value));
    } else result.push(...renderToken(token));
  }
  return { args: result, readsStdin };
}

/** `prepare:psql`. */
export const psqlSpec: PrepareKindSpec<PrepareJobRequestPsql, "psql"> = {
  name: "psql",
  info: {
    tool: "psql",
    argsHelp: "psql arguments: -f FILE, -f -, -c SQL, -v NAME=VALUE, ...",
    prepareDescription: "Build (or reuse) a state from psql scripts and start an instance of it",
    planDescription: "Show the steps of a psql prepare and which are cached",
    prepareHelp: `
Each -f FILE, -f - and -c SQL is a step with its own cached state; the other options apply to all.
Every step runs as psql -X -v ON_ERROR_STOP=1 (so the first error stops it); options that connect
elsewhere (-h, -p, -U, -d), prompt, write files, or undo -X or ON_ERROR_STOP are refused.

Prints DSN=postgres://... of the new instance on stdout (JSON with --output json). Chain a run to
use it once and delete it:
  sqlrs prepare:psql -- -f schema.sql run:psql -- -c 'select count(*) from t'
Or keep it by name and run against it later:
  sqlrs prepare:psql --name dev -- -f schema.sql && sqlrs run:psql --instance dev -- -c 'select 1'`,
    takesValue: (token) => takesNextArg("psql", token),
  },
  libraryOption: "psql",
  schema: PsqlRequestSchema,
  args: (request) => request.psql_args,
  async request(psqlArgs, caller) {
    const { args, readsStdin } = absolutizePsqlFiles(psqlArgs, caller.cwd);
    const request: PrepareJobRequestPsql = { prepare_kind: "psql", psql_args: args, work_dir: caller.cwd };
    if (readsStdin) request.stdin = (await caller.stdin()) ?? "";
    return request;
  },
  // The -f files; the engine asks for the ones they lead to (`\ir`, `\copy`).
  uploadFiles: (request) =>
    Promise.resolve(
      tokenize("psql", request.psql_args).flatMap((token) =>
        token.kind === "option" && token.option.name === "file" && token.value?.startsWith("/") === true
          ? [token.value]
          : []
      ),
    ),
};
