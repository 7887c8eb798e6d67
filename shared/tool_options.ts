/**
 * The option grammar of psql and pgbench, in one place: every option each tool knows (15–17), which
 * take a value, and a tokenizer that reads argv as their getopt_long() does. Short options cluster and
 * glue to their value (`-Atc SQL`, `-fschema.sql`, `-vX=1`); long options take `--name=value` or
 * `--name value`; `--` ends the options. Prepare, run, the composite splitter and the container's file
 * detection are policies over these tokens.
 *
 * @module
 */

/** The client tools sqlrs runs. */
export type ToolName = "psql" | "pgbench";

/** One option of a tool. */
export interface ToolOption {
  /** The canonical name: the first long name (`file`, `set`), or the letter when there is none. */
  readonly name: string;
  readonly short: string | null;
  readonly long: readonly string[];
  readonly takesValue: boolean;
}

function option(short: string | null, long: string | readonly string[], takesValue = false): ToolOption {
  const names = typeof long === "string" ? [long] : long;
  return { name: names[0] ?? short ?? "", short, long: names, takesValue };
}

/** Every option of psql 15–17 (`psql --help`). */
const PSQL: readonly ToolOption[] = [
  option("c", "command", true),
  option("d", ["dbname", "database"], true),
  option("f", "file", true),
  option("l", "list"),
  option("v", ["set", "variable"], true),
  option("V", "version"),
  option("X", "no-psqlrc"),
  option("1", "single-transaction"),
  option("?", "help"),
  option("a", "echo-all"),
  option("b", "echo-errors"),
  option("e", "echo-queries"),
  option("E", "echo-hidden"),
  option("L", "log-file", true),
  option("n", "no-readline"),
  option("o", "output", true),
  option("q", "quiet"),
  option("s", "single-step"),
  option("S", "single-line"),
  option("A", "no-align"),
  option(null, "csv"),
  option("F", "field-separator", true),
  option("H", "html"),
  option("P", "pset", true),
  option("R", "record-separator", true),
  option("t", "tuples-only"),
  option("T", "table-attr", true),
  option("x", "expanded"),
  option("z", "field-separator-zero"),
  option("0", "record-separator-zero"),
  option("h", "host", true),
  option("p", "port", true),
  option("U", "username", true),
  option("w", "no-password"),
  option("W", "password"),
];

/** Every option of pgbench 15–17 (`pgbench --help`). Its `-d` is `--debug`, not a database. */
const PGBENCH: readonly ToolOption[] = [
  option("i", "initialize"),
  option("I", "init-steps", true),
  option("F", "fillfactor", true),
  option("n", "no-vacuum"),
  option("q", "quiet"),
  option("s", "scale", true),
  option(null, "foreign-keys"),
  option(null, "index-tablespace", true),
  option(null, "partition-method", true),
  option(null, "partitions", true),
  option(null, "tablespace", true),
  option(null, "unlogged-tables"),
  option("b", "builtin", true),
  option("f", "file", true),
  option("N", "skip-some-updates"),
  option("S", "select-only"),
  option("c", "client", true),
  option("C", "connect"),
  option("D", "define", true),
  option("j", "jobs", true),
  option("l", "log"),
  option("L", "latency-limit", true),
  option("M", "protocol", true),
  option("P", "progress", true),
  option("r", ["report-per-command", "report-latencies"]),
  option("R", "rate", true),
  option("t", "transactions", true),
  option("T", "time", true),
  option("v", "vacuum-all"),
  option(null, "aggregate-interval", true),
  option(null, "exit-on-abort"),
  option(null, "failures-detailed"),
  option(null, "log-prefix", true),
  option(null, "max-tries", true),
  option(null, "progress-timestamp"),
  option(null, "random-seed", true),
  option(null, "sampling-rate", true),
  option(null, "show-script", true),
  option(null, "verbose-errors"),
  option("d", "debug"),
  option("h", "host", true),
  option("p", "port", true),
  option("U", "username", true),
  option("V", "version"),
  option("?", "help"),
];

interface OptionIndex {
  byShort: ReadonlyMap<string, ToolOption>;
  byLong: ReadonlyMap<string, ToolOption>;
}

function index(options: readonly ToolOption[]): OptionIndex {
  return {
    byShort: new Map(options.flatMap((o) => (o.short === null ? [] : [[o.short, o] as const]))),
    byLong: new Map(options.flatMap((o) => o.long.map((name) => [name, o] as const))),
  };
}

const OPTIONS: Record<ToolName, OptionIndex> = { psql: index(PSQL), pgbench: index(PGBENCH) };

/** One element of a command line as the tool reads it. */
export type ArgToken =
  | {
    kind: "option";
    option: ToolOption;
    /** The option as written, without its value: `-f`, `--file`. */
    flag: string;
    /** As written, for messages: `-v X=1`, `--set=X=1`, `-f` (from `-Atf`). */
    spelled: string;
    /** Its value; also set when a long option that takes none was given one (`--quiet=yes`). */
    value: string | null;
  }
  /** An option the tool does not know; in a cluster, the rest of the cluster from that letter. */
  | { kind: "unknown"; spelled: string; name: string }
  /** A value with no option: a database, a user, a connection string. */
  | { kind: "positional"; value: string };

/** A long option name a user abbreviated (getopt_long() accepts unambiguous prefixes), if exactly one fits. */
export function completeLongOption(tool: ToolName, prefix: string): string | undefined {
  if (prefix === "") return undefined;
  const candidates = [...OPTIONS[tool].byLong.keys()].filter((name) => name.startsWith(prefix));
  return candidates.length === 1 ? candidates[0] : undefined;
}

/**
 * Reads `args` as `tool` does. A value-taking option at the very end yields a token with a null
 * value (the caller says what is missing).
 */
export function tokenize(tool: ToolName, args: readonly string[]): ArgToken[] {
  const { byShort, byLong } = OPTIONS[tool];
  const tokens: ArgToken[] = [];
  const push = (option: ToolOption, flag: string, spelled: string, value: string | null) =>
    tokens.push({ kind: "option", option, flag, spelled, value });
  let optionsEnded = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (optionsEnded || arg === "-" || !arg.startsWith("-")) {
      tokens.push({ kind: "positional", value: arg });
      continue;
    }
    if (arg === "--") {
      optionsEnded = true;
      continue;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const flag = arg.slice(0, eq === -1 ? undefined : eq);
      const known = byLong.get(flag.slice(2));
      if (known === undefined) tokens.push({ kind: "unknown", spelled: arg, name: flag });
      else if (eq !== -1) push(known, flag, arg, arg.slice(eq + 1));
      else if (!known.takesValue) push(known, flag, arg, null);
      else {
        const value = args[i + 1] ?? null;
        if (value !== null) i++;
        push(known, flag, value === null ? arg : `${arg} ${value}`, value);
      }
      continue;
    }
    // A cluster of short options; one that takes a value ends it, with the rest or the next arg.
    for (let j = 1; j < arg.length; j++) {
      const flag = `-${arg[j]}`;
      const known = byShort.get(arg[j] as string);
      if (known === undefined) {
        tokens.push({ kind: "unknown", spelled: `-${arg.slice(j)}`, name: flag });
        break;
      }
      if (!known.takesValue) {
        push(known, flag, flag, null);
        continue;
      }
      const glued = arg.slice(j + 1);
      if (glued !== "") push(known, flag, `${flag}${glued}`, glued);
      else {
        const value = args[i + 1] ?? null;
        if (value !== null) i++;
        push(known, flag, value === null ? flag : `${flag} ${value}`, value);
      }
      break;
    }
  }
  return tokens;
}

/** A token written back as argv, in a spelling the tool reads the same way (`--set=X=1`, `-A`). */
export function renderToken(token: ArgToken): string[] {
  if (token.kind === "positional") return [token.value];
  if (token.kind === "unknown") return [token.spelled];
  const { option, value } = token;
  // A value given to an option that takes none stays glued, for the tool to refuse as it would.
  if (option.short !== null && (value === null || option.takesValue)) {
    return value === null ? [`-${option.short}`] : [`-${option.short}`, value];
  }
  return value === null ? [`--${option.name}`] : [`--${option.name}=${value}`];
}

/**
 * Whether the argv element `arg`, read as an option of `tool`, takes the next element as its value
 * (`-f`, `--file`, `-Atc`); false for glued values (`-fx.sql`, `--file=x.sql`) and non-options.
 */
export function takesNextArg(tool: ToolName, arg: string): boolean {
  if (!arg.startsWith("-") || arg === "-" || arg === "--" || arg.includes("=")) return false;
  const [token] = tokenize(tool, [arg]).filter((t) => t.kind === "option" && t.option.takesValue);
  return token !== undefined && token.kind === "option" && token.value === null;
}
