/**
 * What a team engine refuses of psql, for prepares (the psql kind's `remoteCheck`) and runs
 * (`engine/team/remote_safety.ts`) alike, so that psql cannot escape the database to the engine's
 * host: `\!`, backquoted arguments, `\setenv`, `\o`/`\w`/`\g`/`\s` to a file or a pipe, `\lo_export`,
 * `\copy … to` a file, `\copy … program`, an editor, and `\c` to another host. The meta-commands come
 * from the engine's psql lexer (includes expanded), so a command hidden in an included file or after
 * another one on a line is found too. Files are read only under the uploaded source tree (symlinks
 * followed).
 *
 * @module
 */

import { resolve } from "node:path";
import { invalidArgument } from "../../../shared/errors.ts";
import type { PrepareJobRequestPsql } from "../../../shared/schemas.ts";
import { planPsql } from "./psql_args.ts";
import type { PsqlMetaCommand } from "./psql_context.ts";

/** How refusals say where a command would act. */
export const ON_ENGINE_HOST = "on the engine's host";
const HOST = ON_ENGINE_HOST;
const WRITES = new Set(["o", "out", "w", "write", "s", "lo_export"]);
const EDITORS = new Set(["e", "edit", "ef", "ev"]);

/** The argument's first word (up to a space or the next backslash command). */
function firstWord(argument: string): string {
  return /^\s*([^\s\\]*)/.exec(argument)?.[1] ?? "";
}

/** Whether `\c ARGS` would leave the instance: a connection string, a URI, or a host argument. */
function connectsElsewhere(argument: string): boolean {
  const words = argument.split("\\\\")[0]?.trim().split(/\s+/).filter((word) => word !== "") ?? [];
  if (words.some((word) => word.includes("=") || word.includes("://"))) return true;
  return words.slice(2).some((word) => word !== "-");
}

/** Why a meta-command may not run on a team engine, or null when it may. */
export function escapeReason(meta: PsqlMetaCommand): string | null {
  const { name, argument } = meta;
  if (name === "!") return `it runs a shell command ${HOST}`;
  if (argument.includes("`")) return `a backquoted argument runs a shell command ${HOST}`;
  if (name === "setenv") return `it sets the environment of shell commands ${HOST}`;
  if (EDITORS.has(name)) return `it starts an editor ${HOST}`;
  if (WRITES.has(name) && firstWord(argument) !== "") return `it writes to a file or a pipe ${HOST}`;
  if ((name === "g" || name === "gx") && !["", "("].includes(firstWord(argument).slice(0, 1))) {
    return `it writes to a file or a pipe ${HOST}`;
  }
  if (name.toLowerCase() === "copy") {
    if (/\bprogram\b/i.test(argument)) return `\\copy … program runs a program ${HOST}`;
    if (/\bto\s+(?!(?:stdout|pstdout)\b)/i.test(argument)) return `\\copy … to a file writes it ${HOST}`;
  }
  if ((name === "c" || name === "connect") && connectsElsewhere(argument)) {
    return "a team engine's psql connects only to the instance it builds";
  }
  return null;
}

/**
 * Refuses the first meta-command that may not run on a team engine.
 * @throws {SqlrsError} `invalid_argument` naming the command, where it is, and why
 */
export function refuseMetaCommands(metaCommands: readonly PsqlMetaCommand[]): void {
  for (const meta of metaCommands) {
    const reason = escapeReason(meta);
    if (reason !== null) {
      throw invalidArgument(`Cannot run "\\${meta.name}" from ${meta.where} on a team engine: ${reason}`, {
        command: `\\${meta.name}${meta.argument}`.slice(0, 200),
      });
    }
  }
}

async function realPath(path: string): Promise<string> {
  return await Deno.realPath(path).catch(() => resolve(path));
}

/**
 * Refuses reading a file that is not under `root` (symlinks followed; null: any file).
 * @throws {SqlrsError} `invalid_argument`
 */
export async function refuseFilesOutside(files: readonly string[], root: string | null): Promise<void> {
  const inside = root === null ? null : await realPath(root);
  for (const file of files) {
    const real = await realPath(file);
    if (inside === null || !real.startsWith(`${inside}/`)) {
      throw invalidArgument(
        `Cannot read "${file}" on a team engine: it reads only the files a prepare uploaded ` +
          "(a profile uploads the -f files and what they include with \\ir; an absolute \\i or COPY path is not uploaded)",
      );
    }
  }
}

/**
 * Refuses a psql prepare that would reach beyond its database on a team engine. Reads the request's
 * files as planning does; every one must be under `root` (the uploaded source tree; null: the request
 * uploaded nothing and may read no file).
 * @throws {SqlrsError} `invalid_argument` naming the command, where it is, and why
 */
export async function refusePsqlEscapes(request: PrepareJobRequestPsql, root: string | null): Promise<void> {
  const plan = await planPsql(request.psql_args, {
    workDir: request.work_dir,
    ...(request.stdin === undefined ? {} : { stdin: request.stdin }),
  });
  for (const step of plan.steps) {
    refuseMetaCommands(step.metaCommands);
    await refuseFilesOutside(step.files, root);
  }
}
