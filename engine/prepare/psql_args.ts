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
import { invalidArgument } from "../../shared/errors.ts";
import { expandPsqlContent, unreadableReason } from "./psql_includes.ts";

/** One psql run: its input, its full argv (no program name, no connection args) and its content key. */
export interface PsqlStep {
  input: { kind: "file"; path: string } | { kind: "stdin" } | { kind: "command"; sql: string };
  args: string[];
  /** Hash of the input's expanded content (see `expandPsqlContent`). */
  contentHash: string;
  /** Every absolute file the content depends on. */
  files: string[];
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
  | { kind: "keyed"; canonical: string }
  /** Changes only what psql prints: passed to psql, not keyed. */
  | { kind: "cosmetic"; canonical: string }
  /** Accepted and dropped: already enforced, or harmless for a non-interactive run. */
  | { kind: "dropped" }
  | { kind: "refused"; reason: string };

interface OptionSpec {
  short: string | null;
  long: string[];
  takesValue: boolean;
  treatment: Treatment;
}

const CONNECTION = "sqlrs connects psql to the database it prepares";
const OUTPUT_FILE = "psql output goes to the job log, and files psql writes are not part of the state";
const EXITS = "it prints information and exits without preparing anything";

function spec(short: string | null, long: string[], takesValue: boolean, treatment: Treatment): OptionSpec {
  return { short, long, takesValue, treatment };
}

function cosmetic(short: string | null, long: string, takesValue = false): OptionSpec {
  return spec(short, [long], takesValue, { kind: "cosmetic", canonical: `--${long}` });
}

function refused(short: string | null, long: string[], takesValue: boolean, reason: string): OptionSpec {
  return spec(short, long, takesValue, { kind: "refused", reason });
}

/** Every option of psql 15–17 (`psql --help`), and what sqlrs does with it. */
const OPTIONS: readonly OptionSpec[] = [
  // Inputs: each is a step.
  spec("f", ["file"], true, { kind: "file" }),
  spec("c", ["command"], true, { kind: "command" }),
  // Result-changing: variables can change any statement (and psql's behaviour: AUTOCOMMIT,
  // ON_ERROR_ROLLBACK, …); one transaction per step and newline-terminated statements change what runs.
  spec("v", ["set", "variable"], true, { kind: "set" }),
  spec("1", ["single-transaction"], false, { kind: "keyed", canonical: "--single-transaction" }),
  spec("S", ["single-line"], false, { kind: "keyed", canonical: "--single-line" }),
  // Already enforced (-X), or only about password prompts, which sqlrs never needs (-w).
  spec("X", ["no-psqlrc"], false, { kind: "dropped" }),
  spec("w", ["no-password"], false, { kind: "dropped" }),
  // Cosmetic: echoing and output formatting only.
  cosmetic("a", "echo-all"),
  cosmetic("b", "echo-errors"),
  cosmetic("e", "echo-queries"),
  cosmetic("E", "echo-hidden"),
  cosmetic("n", "no-readline"),
  cosmetic("q", "quiet"),
  cosmetic("A", "no-align"),
  cosmetic(null, "csv"),
  cosmetic("H", "html"),
  cosmetic("t", "tuples-only"),
  cosmetic("x", "expanded"),
  cosmetic("z", "field-separator-zero"),
  cosmetic("0", "record-separator-zero"),
  cosmetic("P", "pset", true),
  cosmetic("F", "field-separator", true),
  cosmetic("R", "record-separator", true),
  cosmetic("T", "table-attr", true),
  // Refused: connection, prompts, early exits, interactive modes, files written by psql.
  refused("h", ["host"], true, CONNECTION),
  refused("p", ["port"], true, CONNECTION),
  refused("U", ["username"], true, CONNECTION),
  refused("d", ["dbname", "database"], true, CONNECTION),
  refused("W", ["password"], false, `${CONNECTION}, without a password prompt`),
  refused("l", ["list"], false, "it lists databases and exits without preparing anything"),
  refused("s", ["single-step"], false, "single-step mode asks for confirmation before each command"),
  refused("V", ["version"], false, EXITS),
  refused("?", ["help"], false, EXITS),
  refused("o", ["output"], true, OUTPUT_FILE),
  refused("L", ["log-file"], true, OUTPUT_FILE),
];

const BY_SHORT = new Map(OPTIONS.flatMap((o) => (o.short === null ? [] : [[o.short, o] as const])));
const BY_LONG = new Map(OPTIONS.flatMap((o) => o.long.map((name) => [name, o] as const)));

/** One option occurrence, as written and with its value. */
interface Occurrence {
  spec: OptionSpec;
  /** The option as the user wrote it, for messages (`-v ON_ERROR_STOP=0`, `--set=…`). */
  spelled: string;
  value: string | null;
}

/** Splits psql args into option occurrences, following getopt_long(). */
function parseOptions(args: readonly string[]): Occurrence[] {
  const found: Occurrence[] = [];
  let onlyPositional = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (onlyPositional || arg === "-" || !arg.startsWith("-")) {
      throw invalidArgument(
        `Cannot pass "${arg}" to psql: ${CONNECTION}, so positional arguments (database, user, connection string) are refused`,
        { argument: arg },
      );
    }
    if (arg === "--") {
      onlyPositional = true;
      continue;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq === -1 ? undefined : eq);
      const option = BY_LONG.get(name);
      if (option === undefined) throw unsupported(`--${name}`, name);
      if (option.treatment.kind === "refused") throw refusal(`--${name}`, option.treatment.reason);
      if (!option.takesValue) {
        if (eq !== -1) {
          throw invalidArgument(`Option "--${name}" does not take a value`, { option: `--${name}` });
        }
        found.push({ spec: option, spelled: arg, value: null });
      } else if (eq !== -1) {
        found.push({ spec: option, spelled: arg, value: arg.slice(eq + 1) });
      } else {
        const value = args[++i];
        if (value === undefined) throw needsValue(`--${name}`);
        found.push({ spec: option, spelled: `${arg} ${value}`, value });
      }
      continue;
    }
    // A cluster of short options; one that takes a value ends the cluster.
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j] ?? "";
      const option = BY_SHORT.get(letter);
      if (option === undefined) throw unsupported(`-${letter}`, null);
      if (option.treatment.kind === "refused") throw refusal(`-${letter}`, option.treatment.reason);
      if (!option.takesValue) {
        found.push({ spec: option, spelled: `-${letter}`, value: null });
        continue;
      }
      const glued = arg.slice(j + 1);
      if (glued !== "") {
        found.push({ spec: option, spelled: `-${letter}${glued}`, value: glued });
      } else {
        const value = args[++i];
        if (value === undefined) throw needsValue(`-${letter}`);
        found.push({ spec: option, spelled: `-${letter} ${value}`, value });
      }
      break;
    }
  }
  return found;
}

function unsupported(option: string, longName: string | null): Error {
  // getopt_long() accepts unambiguous abbreviations; sqlrs wants the full spelling.
  const candidates = longName === null || longName === ""
    ? []
    : [...BY_LONG.keys()].filter((n) => n.startsWith(longName));
  const hint = candidates.length === 1 ? `: spell it in full ("--${candidates[0]}")` : "";
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
    const { treatment } = occurrence.spec;
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
        keyedFlags.add(treatment.canonical);
        shared.push(treatment.canonical);
        break;
      case "cosmetic":
        shared.push(occurrence.value === null ? treatment.canonical : `${treatment.canonical}=${value}`);
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
): Promise<{ contentHash: string; files: string[] }> {
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
