/**
 * What a team engine refuses before planning, so that a prepare cannot escape the database to the
 * engine's host: psql's `\!`, backquoted arguments, `\setenv`, `\o`/`\w`/`\g`/`\s` to a file or a
 * pipe, `\lo_export`, `\copy … to` a file, `\copy … program`, an editor, and `\c` to another host. The
 * meta-commands come from the engine's psql lexer (includes expanded), so a command hidden in an
 * included file or after another one on a line is found too. Liquibase is not served remotely yet:
 * a changelog can run programs (`executeCommand`). Runs are held to the same rules, and may not write
 * psql's output or log to a file (`-o`, `-L`) nor run pgbench script files.
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
import { planPsql } from "../prepare/psql/psql_args.ts";
import { expandPsqlContent, type ExpandPsqlInput } from "../prepare/psql/psql_includes.ts";
import type { PsqlMetaCommand } from "../prepare/psql/psql_context.ts";

const HOST = "on the engine's host";
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
 * Refuses a prepare request that would reach beyond its database on a team engine. Reads the
 * request's files as planning does; every one must be under `root` (the uploaded source tree; null:
 * the request uploaded nothing and may read no file).
 * @throws {SqlrsError} `invalid_argument` naming the command, where it is, and why
 */
export async function refuseEscapes(request: PrepareJobRequest, root: string | null): Promise<void> {
  if (request.prepare_kind === "lb") {
    throw invalidArgument(
      "prepare:lb is not served by a team engine yet: a Liquibase changelog can run programs on the " +
        "engine's host (executeCommand); use prepare:psql",
    );
  }
  const plan = await planPsql(request.psql_args, {
    workDir: request.work_dir,
    ...(request.stdin === undefined ? {} : { stdin: request.stdin }),
  });
  for (const step of plan.steps) {
    refuseMetaCommands(step.metaCommands);
    await refuseFilesOutside(step.files, root);
  }
}

async function realPath(path: string): Promise<string> {
  return await Deno.realPath(path).catch(() => resolve(path));
}

/** Refuses reading a file that is not under `root` (symlinks followed; null: any file). */
async function refuseFilesOutside(files: readonly string[], root: string | null): Promise<void> {
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

function refuseMetaCommands(metaCommands: readonly PsqlMetaCommand[]): void {
  for (const meta of metaCommands) {
    const reason = escapeReason(meta);
    if (reason !== null) {
      throw invalidArgument(`Cannot run "\\${meta.name}" from ${meta.where} on a team engine: ${reason}`, {
        command: `\\${meta.name}${meta.argument}`.slice(0, 200),
      });
    }
  }
}

/** The psql inputs of one invocation: each `-c` and `-f`, else stdin (psql then reads its script there). */
function psqlInputs(args: readonly string[], stdin: string | undefined, workDir: string): ExpandPsqlInput[] {
  const inputs: ExpandPsqlInput[] = [];
  const stdinInput = { text: stdin ?? "", origin: null, workDir, label: "stdin" };
  for (const token of tokenize("psql", args)) {
    if (token.kind !== "option") continue;
    const { name } = token.option;
    if (name === "output" || name === "log-file") {
      throw invalidArgument(`Cannot use psql ${token.flag} on a team engine: it writes a file ${HOST}`);
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
