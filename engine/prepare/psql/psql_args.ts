/**
 * Planning of `prepare:psql -- <psql args>`: the args are split into steps (one per `-f FILE`, `-f -`
 * and `-c SQL`, in order), every other accepted option is shared by all steps, and the options that
 * can change the result are normalized for the cache key.
 *
 * Parsing follows psql's getopt_long(): short options may be clustered and glued to their value
 * (`-qAt`, `-fschema.sql`, `-vX=1`), long options take `--name=value` or `--name value`. Each step
 * runs as `psql -X -v ON_ERROR_STOP=1 <shared options> <its own input>`, shared options spelled in
 * their long form. Anything that would connect elsewhere, prompt, exit early, write files or undo
 * the enforced `-X`/`ON_ERROR_STOP=1` is refused with a 400, as is any option sqlrs does not know.
 *
 * @module
 */

import { resolve } from "node:path";
import { invalidArgument } from "../../../shared/errors.ts";
import { completeLongOption, tokenize, type ToolOption } from "../../../shared/tool_options.ts";
import { type ExpandedPsqlContent, expandPsqlContent } from "./psql_includes.ts";
import type { PsqlMetaCommand } from "./psql_context.ts";
import { unreadableReason } from "./psql_data_keys.ts";

/** One psql run: its input, its full argv (no program name, no connection args) and its content key. */
export interface PsqlStep {
  input: { kind: "file"; path: string } | { kind: "stdin" } | { kind: "command"; sql: string };
  args: string[];
  /** Hash of the input's expanded content (see `expandPsqlContent`). */
  contentHash: string;
  /** Every absolute file the content depends on. */
  files: string[];
  /** The input's backslash commands, includes expanded. */
  metaCommands: PsqlMetaCommand[];
}

/** The steps of a psql prepare, and the options that enter every step's fingerprint. */
export interface PsqlPlan {
  steps: PsqlStep[];
  /** Canonical spellings of the result-changing options, e.g. `--single-transaction`, `--set=A=1`. */
  normalizedOptions: string[];
}

/** Where psql runs and what it would read as stdin. */
export interface PsqlContext {
  /** The directory psql runs in; relative `-f` and `\i` paths resolve against it. */
  workDir: string;
  /** The content that `-f -` reads. */
  stdin?: string;
}

/** The arguments sqlrs puts first on every psql command line. */
export const ENFORCED_PSQL_ARGS: readonly string[] = ["-X", "-v", "ON_ERROR_STOP=1"];

type Treatment =
  /** Starts a step of its own. */
  | { kind: "file" | "command" }
  /** `-v`: keyed, in order. */
  | { kind: "set" }
  /** Changes how psql runs the input: keyed. */
  | { kind: "keyed" }
  /** Changes only what psql prints: passed to psql, not keyed. */
  | { kind: "cosmetic" }
  /** Accepted and dropped: already enforced, or harmless for a non-interactive run. */
  | { kind: "dropped" }
  | { kind: "refused"; reason: string };

const CONNECTION = "sqlrs connects psql to the database it prepares";
const OUTPUT_FILE = "psql output goes to the job log, and files psql writes are not part of the state";
const EXITS = "it prints information and exits without preparing anything";

const COSMETIC: Treatment = { kind: "cosmetic" };
const refused = (reason: string): Treatment => ({ kind: "refused", reason });

/** What a prepare does with each psql option (by its name in shared/tool_options.ts). */
const TREATMENTS: Readonly<Record<string, Treatment>> = {
  // Inputs: each is a step.
  file: { kind: "file" },
  command: { kind: "command" },
  // Result-changing: variables can change any statement (and psql's behaviour: AUTOCOMMIT,
  // ON_ERROR_ROLLBACK, …); one transaction per step and newline-terminated statements change what runs.
  set: { kind: "set" },
  "single-transaction": { kind: "keyed" },
  "single-line": { kind: "keyed" },
  // Already enforced (-X), or only about password prompts, which sqlrs never needs (-w).
  "no-psqlrc": { kind: "dropped" },
  "no-password": { kind: "dropped" },
  // Cosmetic: echoing and output formatting only.
  "echo-all": COSMETIC,
  "echo-errors": COSMETIC,
  "echo-queries": COSMETIC,
  "echo-hidden": COSMETIC,
  "no-readline": COSMETIC,
  quiet: COSMETIC,
  "no-align": COSMETIC,
  csv: COSMETIC,
  html: COSMETIC,
  "tuples-only": COSMETIC,
  expanded: COSMETIC,
  "field-separator-zero": COSMETIC,
  "record-separator-zero": COSMETIC,
  pset: COSMETIC,
  "field-separator": COSMETIC,
  "record-separator": COSMETIC,
  "table-attr": COSMETIC,
  // Refused: connection, prompts, early exits, interactive modes, files written by psql.
  host: refused(CONNECTION),
  port: refused(CONNECTION),
  username: refused(CONNECTION),
  dbname: refused(CONNECTION),
  password: refused(`${CONNECTION}, without a password prompt`),
  list: refused("it lists databases and exits without preparing anything"),
  "single-step": refused("single-step mode asks for confirmation before each command"),
  version: refused(EXITS),
  help: refused(EXITS),
  output: refused(OUTPUT_FILE),
  "log-file": refused(OUTPUT_FILE),
};

/** One option occurrence, as written and with its value. */
interface Occurrence {
  option: ToolOption;
  treatment: Treatment;
  /** The option as the user wrote it, for messages (`-v ON_ERROR_STOP=0`, `--set=…`). */
  spelled: string;
  value: string | null;
}

/** Reads psql args as psql does, refusing positionals, unknown and refused options. */
function parseOptions(args: readonly string[]): Occurrence[] {
  return tokenize("psql", args).map((token) => {
    if (token.kind === "positional") {
      throw invalidArgument(
        `Cannot pass "${token.value}" to psql: ${CONNECTION}, so positional arguments (database, user, connection string) are refused`,
        { argument: token.value },
      );
    }
    if (token.kind === "unknown") throw unsupported(token.name);
    const treatment = TREATMENTS[token.option.name] ?? refused("sqlrs does not know what it does");
    if (treatment.kind === "refused") throw refusal(token.flag, treatment.reason);
    if (token.option.takesValue && token.value === null) throw needsValue(token.flag);
    if (!token.option.takesValue && token.value !== null) {
      throw invalidArgument(`Option "${token.flag}" does not take a value`, { option: token.flag });
    }
    return { option: token.option, treatment, spelled: token.spelled, value: token.value };
  });
}

function unsupported(option: string): Error {
  // getopt_long() accepts unambiguous abbreviations; sqlrs wants the full spelling.
  const full = option.startsWith("--") ? completeLongOption("psql", option.slice(2)) : undefined;
  const hint = full === undefined ? "" : `: spell it in full ("--${full}")`;
  return invalidArgument(`Unsupported psql option "${option}"${hint}`, { option });
}

function refusal(option: string, reason: string): Error {
  return invalidArgument(`Cannot use psql option "${option}": ${reason}`, { option });
}

function needsValue(option: string): Error {
  return invalidArgument(`Option "${option}" needs a value`, { option });
}

/** psql's ParseVariableBool() accepting the value as true. */
function isTrue(value: string): boolean {
  const v = value.toLowerCase();
  return (v !== "" && ("true".startsWith(v) || "yes".startsWith(v))) || v === "on" || v === "1";
}

/** The canonical `--set=…` of a `-v` value, or null when it only repeats the enforced ON_ERROR_STOP=1. */
function normalizeSet(occurrence: Occurrence): string | null {
  const value = occurrence.value ?? "";
  const eq = value.indexOf("=");
  const name = eq === -1 ? value : value.slice(0, eq);
  if (!/^[A-Za-z0-9_\u0080-\uffff]+$/.test(name)) {
    throw invalidArgument(`Invalid psql variable name "${name}" in "${occurrence.spelled}"`, {
      option: occurrence.spelled,
    });
  }
  if (name === "ON_ERROR_STOP") {
    if (eq !== -1 && isTrue(value.slice(eq + 1))) return null;
    throw invalidArgument(
      `Cannot use "${occurrence.spelled}": sqlrs enforces ON_ERROR_STOP=1 so that a failing statement fails the step`,
      { option: occurrence.spelled },
    );
  }
  return `--set=${value}`;
}

/** A step before its content is read. */
type PendingInput = PsqlStep["input"];

/**
 * Plans the psql steps of `prepare:psql -- <args>`: splits the steps, checks and normalizes the
 * shared options, and hashes each step's expanded content. Bad input throws an `invalid_argument`
 * error naming the offending argument.
 */
export async function planPsql(args: readonly string[], context: PsqlContext): Promise<PsqlPlan> {
  const workDir = resolve(context.workDir);
  const inputs: PendingInput[] = [];
  const shared: string[] = [];
  const keyedFlags = new Set<string>();
  const sets: string[] = [];
  for (const occurrence of parseOptions(args)) {
    const { treatment, option } = occurrence;
    const value = occurrence.value ?? "";
    switch (treatment.kind) {
      case "file":
        if (value === "") {
          throw invalidArgument(`Option "-f" needs a file name`, { option: occurrence.spelled });
        }
        if (value === "-") {
          if (context.stdin === undefined) throw invalidArgument("-f - needs stdin content");
          if (inputs.some((input) => input.kind === "stdin")) {
            throw invalidArgument("Only one -f - is allowed: stdin can be read once");
          }
          inputs.push({ kind: "stdin" });
        } else {
          inputs.push({ kind: "file", path: resolve(workDir, value) });
        }
        break;
      case "command":
        inputs.push({ kind: "command", sql: value });
        break;
      case "set": {
        const canonical = normalizeSet(occurrence);
        if (canonical !== null) {
          sets.push(canonical);
          shared.push(canonical);
        }
        break;
      }
      case "keyed":
        keyedFlags.add(`--${option.name}`);
        shared.push(`--${option.name}`);
        break;
      case "cosmetic":
        shared.push(occurrence.value === null ? `--${option.name}` : `--${option.name}=${value}`);
        break;
      case "dropped":
      case "refused": // parseOptions() already threw
        break;
    }
  }
  if (inputs.length === 0) throw invalidArgument("Nothing to prepare: pass -f FILE, -f - or -c SQL");

  const steps: PsqlStep[] = [];
  for (const input of inputs) {
    const own = input.kind === "file"
      ? ["-f", input.path]
      : input.kind === "stdin"
      ? ["-f", "-"]
      : ["-c", input.sql];
    const content = await stepContent(input, workDir, context.stdin ?? "");
    steps.push({ input, args: [...ENFORCED_PSQL_ARGS, ...shared, ...own], ...content });
  }
  return { steps, normalizedOptions: [...[...keyedFlags].sort(), ...sets] };
}

async function stepContent(
  input: PendingInput,
  workDir: string,
  stdin: string,
): Promise<ExpandedPsqlContent> {
  if (input.kind === "command") {
    return await expandPsqlContent({ text: input.sql, origin: null, workDir, label: "the -c command" });
  }
  if (input.kind === "stdin") {
    return await expandPsqlContent({ text: stdin, origin: null, workDir, label: "stdin" });
  }
  const reason = await unreadableReason(input.path);
  if (reason !== null) {
    throw invalidArgument(`Cannot read -f file "${input.path}": ${reason}`, { path: input.path });
  }
  return await expandPsqlContent({ origin: input.path, workDir });
}
