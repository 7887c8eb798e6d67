/**
 * What a team engine refuses before planning, so that a prepare or a run cannot escape the database to
 * the engine's host. A prepare is checked by its kind (`remoteCheck` of `engine/prepare/kinds.ts`; a
 * kind without one is not served by a team engine: Liquibase is not yet, as a changelog can run
 * programs with `executeCommand`). Runs are held to psql's rules for prepares
 * (`engine/prepare/psql/psql_team.ts`), and may not write psql's output or log to a file (`-o`, `-L`)
 * nor run pgbench script files.
 *
 * A team engine reads no file of its host on a user's behalf: a prepare reads only the files its client
 * uploaded (its source tree; `-f`, `\i`, `\copy … from`, `COPY … FROM '/abs'` outside it are refused,
 * symlinks followed), and a run, whose scripts the client sends as text, reads none.
 *
 * Not covered, and said so in the README: server-side programs (`COPY … TO PROGRAM`), which a DSN's
 * superuser can run anyway; they run as the unprivileged user the servers run as.
 *
 * @module
 */

import { resolve } from "node:path";
import { invalidArgument } from "../../shared/errors.ts";
import type { ParsedRunRequest, PrepareJobRequest } from "../../shared/schemas.ts";
import { tokenize } from "../../shared/tool_options.ts";
import { prepareKindOf } from "../prepare/kinds.ts";
import { expandPsqlContent, type ExpandPsqlInput } from "../prepare/psql/psql_includes.ts";
import { ON_ENGINE_HOST, refuseFilesOutside, refuseMetaCommands } from "../prepare/psql/psql_team.ts";

/**
 * Refuses a prepare request that would reach beyond its database on a team engine, by its kind's
 * `remoteCheck`; every file it reads must be under `root` (the uploaded source tree; null: the request
 * uploaded nothing and may read no file).
 * @throws {SqlrsError} `invalid_argument` naming the command, where it is, and why
 */
export async function refuseEscapes(request: PrepareJobRequest, root: string | null): Promise<void> {
  const check = prepareKindOf(request).remoteCheck;
  if (check === undefined) {
    throw invalidArgument(`prepare:${request.prepare_kind} is not served by a team engine`);
  }
  await check(request, root);
}

/** The psql inputs of one invocation: each `-c` and `-f`, else stdin (psql then reads its script there). */
function psqlInputs(args: readonly string[], stdin: string | undefined, workDir: string): ExpandPsqlInput[] {
  const inputs: ExpandPsqlInput[] = [];
  const stdinInput = { text: stdin ?? "", origin: null, workDir, label: "stdin" };
  for (const token of tokenize("psql", args)) {
    if (token.kind !== "option") continue;
    const { name } = token.option;
    if (name === "output" || name === "log-file") {
      throw invalidArgument(
        `Cannot use psql ${token.flag} on a team engine: it writes a file ${ON_ENGINE_HOST}`,
      );
    }
    if (name === "command") {
      inputs.push({ text: token.value ?? "", origin: null, workDir, label: "the -c command" });
    }
    if (name === "file") {
      inputs.push(
        token.value === "-" ? stdinInput : { origin: resolve(workDir, token.value ?? ""), workDir },
      );
    }
  }
  return inputs.length === 0 && stdin !== undefined ? [stdinInput] : inputs;
}

/** Refuses pgbench script files: a team engine would read them on its host (built-in scripts, `-b`, run). */
function refusePgbenchFiles(args: readonly string[], workDir: string): void {
  const script = tokenize("pgbench", args).find((token) =>
    token.kind === "option" && token.option.name === "file"
  );
  if (script === undefined || script.kind !== "option") return;
  // -f FILE@WEIGHT
  const path = resolve(workDir, (script.value ?? "").replace(/@\d+$/, ""));
  throw invalidArgument(
    `Cannot read pgbench script "${path}" on a team engine: run:pgbench there takes built-in scripts (-b) only`,
  );
}

/**
 * Refuses a run that would reach beyond its database on a team engine: the same psql commands as a
 * prepare (its inputs read with the same lexer, so an input the planner cannot read is refused too),
 * psql's `-o` and `-L`, and pgbench script files.
 * @throws {SqlrsError} `invalid_argument`
 */
export async function refuseRunEscapes(request: ParsedRunRequest): Promise<void> {
  const workDir = request.work_dir ?? "/";
  for (const { args, stdin } of request.steps ?? [{ args: request.args, stdin: request.stdin }]) {
    if (request.kind === "pgbench") {
      refusePgbenchFiles(args, workDir);
      continue;
    }
    for (const input of psqlInputs(args, stdin, workDir)) {
      const { metaCommands, files } = await expandPsqlContent(input);
      refuseMetaCommands(metaCommands);
      await refuseFilesOutside(files, null);
    }
  }
}
