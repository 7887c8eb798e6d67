/**
 * Checking and normalizing the arguments of `prepare:lb` / `plan:lb -- <liquibase args>`.
 *
 * Accepted commands: `update`, `update-count --count N` and `update-to-tag --tag T` (camelCase
 * spellings too). sqlrs plans with the matching `*-sql` command and applies a series of pending changesets
 * with `update-count --count N` (see {@link planArgs}, {@link applyArgs}); any other command
 * (including `update-sql`: use `plan:lb`, and `update-testing-rollback`) is a 400.
 *
 * Options take `--name value` or `--name=value`, in kebab-case or camelCase, before or after the
 * command; `-Dname=value` sets a changelog parameter. Every accepted option is known: anything
 * that connects elsewhere (`--url`, `--username`, `--password`, `--reference-*`), changes the
 * driver (`--driver`, `--driver-properties-file`, Java class options), writes files on the engine host (`--output-file`, `--log-file`, reports), renames the
 * tracking tables or needs Liquibase Pro, and any unknown option, is refused with a 400 naming it.
 * A defaults file (`--defaults-file`, or `liquibase.properties` in the work dir, which Liquibase reads
 * on its own) is read and refused when it sets any of those, except `url`, `username` and `password`
 * (the connection sqlrs passes takes precedence over them) and `driver: org.postgresql.Driver`.
 *
 * Paths: `--search-path` entries (comma list) resolve against the work dir and must exist. A relative
 * `--changelog-file` is looked up in the search path (the work dir when none is given) and must
 * exist; its spelling is kept, because Liquibase records it in `databasechangelog.filename`. An
 * absolute one must lie under a search root and is made relative to it. `classpath:` and `scheme://`
 * references are left alone (not checked). `--classpath` entries (`:`-separated jars or directories,
 * for `customChange` classes) resolve against the work dir and must exist; their content is keyed.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { isAbsolute, join, normalize, relative, resolve, sep } from "node:path";
import { invalidArgument } from "../../../shared/errors.ts";

/** The Liquibase commands sqlrs accepts. */
export type LiquibaseCommand = "update" | "update-count" | "update-to-tag";

/** The checked, normalized arguments of a Liquibase prepare. */
export interface LiquibaseArgs {
  command: LiquibaseCommand;
  /** `--count` of `update-count`, else null. */
  count: number | null;
  /** `--tag` of `update-to-tag`, else null. */
  tag: string | null;
  /** Absolute path of the root changelog (a `classpath:`/URL reference is kept as given). */
  changelogFile: string;
  /** What sqlrs passes as `--changelog-file`: relative to the search root it was found in. */
  changelogArg: string;
  /** Absolute local entries, and `classpath:`/URL entries as given; empty when not set. */
  searchPath: string[];
  /** `--classpath` entries (jars or directories of the project's classes), absolute; empty when not set. */
  classpath: string[];
  contexts: string | null;
  labels: string | null;
  /** Absolute path of the defaults file Liquibase reads (explicit or `<workDir>/liquibase.properties`). */
  defaultsFile: string | null;
  /** Every other accepted option, canonical: `--name=value` (global ones first), then `-Dname=value`. */
  passthrough: string[];
  /** The part of `passthrough` that goes before the command. */
  globalOptions: string[];
  /** The part of `passthrough` that goes after the command. */
  commandOptions: string[];
  /**
   * What, besides each changeset's checksum and SQL, can change what any step does: canonical, sorted
   * (`-Dname=value`, `--default-schema-name=…`, ..., and `defaults-file-sha256=<hex>` for the defaults
   * file's content). Cosmetic options are not in it, nor are the context and label filters: they
   * decide which changesets are pending (the chain of parents keys that), and are keyed per changeset
   * only where a changeset's SQL cannot show their effect (see {@link contextOptions}).
   */
  keyedOptions: string[];
  /** The regular files the args name (defaults file, root changelog); directories are in `roots`. */
  files: string[];
  /** The local directories Liquibase reads changelogs from: the search path, else the work dir. */
  roots: string[];
}

type Scope = "global" | "command";

type Treatment =
  | {
    kind: "changelog" | "searchPath" | "classpath" | "defaultsFile" | "contexts" | "labels" | "count" | "tag";
  }
  /** Passed on and part of the key. */
  | { kind: "keyed"; scope: Scope }
  /** Passed on, not keyed; `plan: false` when the `*-sql` commands do not accept it. */
  | { kind: "cosmetic"; scope: Scope; plan: boolean }
  /** Accepted and not passed on (sqlrs sets it, or it does not matter). */
  | { kind: "dropped" }
  | { kind: "refused"; reason: string };

interface OptionSpec {
  canonical: string;
  treatment: Treatment;
}

const CONNECTION = "sqlrs connects Liquibase to the database it prepares";
const CLASSPATH =
  "sqlrs runs Liquibase with the bundled PostgreSQL driver (pass project classes with --classpath)";
const JAVA_CLASS = "it loads Java code into Liquibase";
const WRITES = "it writes files on the engine host; Liquibase output goes to the job log";
const TABLES = "sqlrs reads and clears the default databasechangelog and databasechangeloglock tables";
const PRO = "Liquibase Pro is not supported";
const EXITS = "it prints information and exits without preparing anything";

const OPTIONS = new Map<string, OptionSpec>();

function add(names: string[], treatment: Treatment): void {
  const canonical = names[0] as string;
  for (const name of names) OPTIONS.set(normalizeName(name), { canonical, treatment });
}

/** `--changeLogFile`, `--changelog-file` and `changelog_file` all become `changelogfile`. */
function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]/g, "");
}

add(["changelog-file"], { kind: "changelog" });
add(["search-path"], { kind: "searchPath" });
add(["classpath"], { kind: "classpath" });
add(["defaults-file"], { kind: "defaultsFile" });
add(["context-filter", "contexts"], { kind: "contexts" });
add(["label-filter", "labels"], { kind: "labels" });
add(["count"], { kind: "count" });
add(["tag"], { kind: "tag" });
for (const name of ["default-schema-name", "default-catalog-name"]) {
  add([name], { kind: "keyed", scope: "command" });
}
for (
  const name of [
    "liquibase-catalog-name",
    "liquibase-schema-name",
    "liquibase-tablespace-name",
    "allow-duplicated-changeset-identifiers",
    "changelog-parse-mode",
    "convert-data-types",
    "duplicate-file-mode",
    "error-on-circular-include-all",
    "file-encoding",
    "missing-property-mode",
    "on-missing-include-changelog",
    "preserve-schema-case",
    "strict",
    "support-property-escaping",
    "validate-xml-changelog-files",
  ]
) add([name], { kind: "keyed", scope: "global" });
for (
  const name of [
    "log-level",
    "log-channels",
    "sql-log-level",
    "sql-show-sql-warnings",
    "filter-log-messages",
    "mirror-output-to-console",
  ]
) add([name], { kind: "cosmetic", scope: "global", plan: true });
for (const name of ["show-summary", "show-summary-output"]) {
  add([name], { kind: "cosmetic", scope: "command", plan: false });
}
for (
  const name of ["show-banner", "headless", "changelog-lock-wait-time-in-minutes", "changelog-lock-poll-rate"]
) add([name], { kind: "dropped" });
for (
  const name of ["url", "username", "password", "reference-url", "reference-username", "reference-password"]
) {
  add([name], { kind: "refused", reason: CONNECTION });
}
for (
  const name of [
    "include-system-classpath",
    "driver",
    "driver-properties-file",
    "reference-driver",
  ]
) {
  add([name], { kind: "refused", reason: CLASSPATH });
}
for (
  const name of [
    "database-class",
    "property-provider-class",
    "change-exec-listener-class",
    "change-exec-listener-properties-file",
  ]
) add([name], { kind: "refused", reason: JAVA_CLASS });
for (
  const name of [
    "output-file",
    "log-file",
    "report-enabled",
    "report-name",
    "report-path",
    "custom-log-data-file",
    "monitor-performance",
    "mirror-console-messages-to-log",
  ]
) add([name], { kind: "refused", reason: WRITES });
for (const name of ["database-changelog-table-name", "database-changelog-lock-table-name"]) {
  add([name], { kind: "refused", reason: TABLES });
}
for (const name of ["license-key", "pro-license-key"]) add([name], { kind: "refused", reason: PRO });
add(["should-run"], { kind: "refused", reason: "sqlrs always runs the update" });
add(["prompt-for-non-local-database"], { kind: "refused", reason: "Liquibase runs without a terminal" });
for (const name of ["help", "version"]) add([name], { kind: "refused", reason: EXITS });

/** Option name prefixes refused as a family. */
const REFUSED_PREFIXES: ReadonlyArray<[string, string]> = [
  ["reference", CONNECTION],
  ["hub", "sqlrs does not connect Liquibase to Liquibase Hub"],
  ["psql", "native executors run programs on the engine host"],
  ["sqlcmd", "native executors run programs on the engine host"],
  ["sqlplus", "native executors run programs on the engine host"],
  ["pro", PRO],
];

const COMMANDS = new Map<string, LiquibaseCommand>([
  ["update", "update"],
  ["updatecount", "update-count"],
  ["updatetotag", "update-to-tag"],
]);

const COMMAND_HINTS = new Map<string, string>([
  ["updatesql", "use sqlrs plan:lb to see the pending changesets"],
  ["updatecountsql", "use sqlrs plan:lb to see the pending changesets"],
  ["updatetotagsql", "use sqlrs plan:lb to see the pending changesets"],
]);

function lookup(rawName: string): OptionSpec | null {
  const key = normalizeName(rawName);
  const spec = OPTIONS.get(key);
  if (spec !== undefined) return spec;
  for (const [prefix, reason] of REFUSED_PREFIXES) {
    if (key.startsWith(prefix)) return { canonical: rawName, treatment: { kind: "refused", reason } };
  }
  return null;
}

function isReference(value: string): boolean {
  return value.startsWith("classpath:") || /^[a-z][a-z0-9+.\-]*:\/\//i.test(value);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function isUnder(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

/** `a/./b/../c.xml` → `a/c.xml` (posix separators), without a leading `./`. */
function tidy(path: string): string {
  return normalize(path).split(sep).join("/").replace(/^(\.\/)+/, "");
}

/** Reads a Java properties file: `key=value`, `key: value` or `key value`; `#`/`!` comments; `\` joins lines. */
export function parseProperties(text: string): Map<string, string> {
  const result = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = (lines[i] as string).replace(/^\s+/, "");
    if (line === "" || line.startsWith("#") || line.startsWith("!")) continue;
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) {
      line = line.slice(0, -1) + (lines[++i] as string).replace(/^\s+/, "");
    }
    const match = /^((?:\\.|[^=:\s\\])*)\s*[=:\s]?\s*(.*)$/.exec(line);
    if (match === null) continue;
    const unescape = (s: string) =>
      s.replace(/\\(.)/g, (_, c: string) => ({ t: "\t", n: "\n", r: "\r" })[c] ?? c);
    result.set(unescape(match[1] as string), unescape(match[2] as string));
  }
  return result;
}

/** The option a defaults-file key sets: `liquibase.command.update.url` → `url`, `hub.mode` → `hubmode`. */
function defaultsKeyName(key: string): string {
  let k = key.toLowerCase();
  if (k.startsWith("liquibase.command.")) {
    k = k.slice("liquibase.command.".length);
    const dot = k.indexOf(".");
    if (dot !== -1 && COMMANDS.has(normalizeName(k.slice(0, dot)))) k = k.slice(dot + 1);
  } else if (k.startsWith("liquibase.")) {
    k = k.slice("liquibase.".length);
  }
  return normalizeName(k);
}

interface DefaultsFileValues {
  changelogFile: string | null;
  searchPath: string | null;
  classpath: string | null;
  contexts: string | null;
  labels: string | null;
}

/** Defaults-file keys that the connection sqlrs passes overrides, so they are ignored, not refused. */
const OVERRIDDEN_IN_DEFAULTS = new Set(["url", "username", "password"]);

function checkDefaultsFile(path: string, text: string): DefaultsFileValues {
  const values: DefaultsFileValues = {
    changelogFile: null,
    searchPath: null,
    classpath: null,
    contexts: null,
    labels: null,
  };
  for (const [key, value] of parseProperties(text)) {
    if (key.toLowerCase().startsWith("parameter.")) continue;
    const spec = lookup(defaultsKeyName(key));
    if (spec === null) continue;
    const t = spec.treatment;
    // sqlrs's --url/--username (command line) and password (environment) take precedence over these.
    if (OVERRIDDEN_IN_DEFAULTS.has(spec.canonical)) continue;
    if (spec.canonical === "driver" && value.trim() === "org.postgresql.Driver") continue;
    if (t.kind === "refused") {
      throw invalidArgument(`Liquibase defaults file ${path} sets ${key}, which sqlrs refuses: ${t.reason}`, {
        file: path,
        key,
      });
    }
    if (t.kind === "changelog") values.changelogFile = value.trim();
    if (t.kind === "searchPath") values.searchPath = value.trim();
    if (t.kind === "classpath") values.classpath = value.trim();
    if (t.kind === "contexts") values.contexts = value.trim();
    if (t.kind === "labels") values.labels = value.trim();
  }
  return values;
}

interface Collected {
  command: LiquibaseCommand | null;
  values: Map<string, string>;
  global: string[];
  commandOpts: string[];
  keyed: string[];
  params: Map<string, string>;
}

function collect(args: readonly string[]): Collected {
  const out: Collected = {
    command: null,
    values: new Map(),
    global: [],
    commandOpts: [],
    keyed: [],
    params: new Map(),
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") throw invalidArgument(`Unexpected "--" in the Liquibase arguments`);
    if (/^-D[^=]+=/.test(arg)) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq);
      if (out.params.has(name)) {
        throw invalidArgument(`Liquibase changelog parameter -D${name} is given twice`);
      }
      out.params.set(name, arg.slice(eq + 1));
      continue;
    }
    if (!arg.startsWith("-")) {
      if (out.command !== null) {
        throw invalidArgument(`Unexpected Liquibase argument ${JSON.stringify(arg)} after the command`, {
          argument: arg,
        });
      }
      const key = normalizeName(arg);
      const command = COMMANDS.get(key);
      if (command === undefined) {
        const hint = COMMAND_HINTS.get(key);
        throw invalidArgument(
          `Liquibase command ${JSON.stringify(arg)} is not supported: sqlrs prepares states with update, ` +
            `update-count or update-to-tag${hint ? ` (${hint})` : ""}`,
          { command: arg },
        );
      }
      out.command = command;
      continue;
    }
    if (arg === "-h" || arg === "-v") {
      throw invalidArgument(`Liquibase option ${arg} is not allowed: ${EXITS}`);
    }
    if (!arg.startsWith("--") || arg.length === 2) {
      throw invalidArgument(`Unknown Liquibase option ${arg}`, { option: arg });
    }
    const eq = arg.indexOf("=");
    const rawName = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = lookup(rawName);
    const shown = `--${rawName}`;
    if (spec === null) {
      throw invalidArgument(
        `Unknown or unsupported Liquibase option ${shown} (sqlrs accepts the update options, the search ` +
          `path, the defaults file, contexts, labels, -Dname=value and options that do not connect, load ` +
          `code or write files)`,
        { option: shown },
      );
    }
    const t = spec.treatment;
    if (t.kind === "refused") {
      throw invalidArgument(`Liquibase option ${shown} is not allowed: ${t.reason}`, { option: shown });
    }
    let value: string;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else {
      const next = args[i + 1];
      if (next === undefined) {
        throw invalidArgument(`Liquibase option ${shown} needs a value`, { option: shown });
      }
      value = next;
      i++;
    }
    const name = spec.canonical;
    if (out.values.has(name)) {
      throw invalidArgument(`Liquibase option --${name} is given twice`, { option: `--${name}` });
    }
    out.values.set(name, value);
    if (t.kind === "keyed" || t.kind === "cosmetic") {
      const canonical = `--${name}=${value}`;
      (t.scope === "global" ? out.global : out.commandOpts).push(canonical);
      if (t.kind === "keyed") out.keyed.push(canonical);
    }
  }
  return out;
}

function splitList(value: string): string[] {
  return value.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "");
}

function resolveSearchPath(value: string, workDir: string, option: string): string[] {
  return splitList(value).map((entry) => {
    if (isReference(entry)) return entry;
    const path = resolve(workDir, entry);
    if (!exists(path)) {
      throw invalidArgument(`${option} entry ${entry} does not exist (looked for ${path})`, { path });
    }
    return path;
  });
}

/** `--classpath` entries (`:`-separated, like Java's): absolute, and they must exist. */
function resolveClasspath(value: string, workDir: string, option: string): string[] {
  return value.split(":").map((entry) => entry.trim()).filter((entry) => entry !== "").map((entry) => {
    const path = resolve(workDir, entry);
    if (!exists(path)) {
      throw invalidArgument(`${option} entry ${entry} does not exist (looked for ${path})`, { path });
    }
    return path;
  });
}

function resolveChangelog(
  value: string,
  roots: string[],
  hasRemoteRoots: boolean,
): { file: string; arg: string } {
  if (value.trim() === "") throw invalidArgument("--changelog-file is empty");
  if (isReference(value)) return { file: value, arg: value };
  if (isAbsolute(value)) {
    const file = normalize(value);
    const root = roots.find((dir) => isUnder(file, dir));
    if (root === undefined) {
      throw invalidArgument(
        `Liquibase changelog ${value} is outside the search path (${
          roots.join(", ")
        }); run from a directory ` +
          `that contains it or pass --search-path`,
        { path: value },
      );
    }
    if (!exists(file)) throw invalidArgument(`Liquibase changelog ${value} does not exist`, { path: value });
    return { file, arg: tidy(relative(root, file)) };
  }
  const arg = tidy(value);
  for (const root of roots) {
    const file = resolve(root, arg);
    if (exists(file)) return { file, arg };
  }
  if (hasRemoteRoots) return { file: arg, arg };
  const tried = roots.map((root) => resolve(root, arg));
  throw invalidArgument(`Liquibase changelog ${value} does not exist (looked for ${tried.join(", ")})`, {
    path: tried[0] ?? value,
  });
}

/**
 * Checks and normalizes the Liquibase arguments of a prepare. `workDir` (absolute) is where the CLI
 * ran; Liquibase runs there.
 * @throws {SqlrsError} `invalid_argument` naming the refused option, command or missing path
 */
export function parseLiquibaseArgs(args: readonly string[], workDir: string): LiquibaseArgs {
  if (!isAbsolute(workDir)) throw invalidArgument(`The work dir must be absolute: ${workDir}`);
  const c = collect(args);
  if (c.command === null) {
    throw invalidArgument(
      "Missing the Liquibase command: sqlrs prepares with update, update-count or update-to-tag",
    );
  }
  const command = c.command;

  let defaultsFile: string | null = null;
  const explicitDefaults = c.values.get("defaults-file");
  if (explicitDefaults !== undefined) {
    defaultsFile = resolve(workDir, explicitDefaults);
    if (!exists(defaultsFile)) {
      throw invalidArgument(
        `Liquibase defaults file ${explicitDefaults} does not exist (looked for ${defaultsFile})`,
        {
          path: defaultsFile,
        },
      );
    }
  } else if (exists(join(workDir, "liquibase.properties"))) {
    // Liquibase reads it on its own.
    defaultsFile = join(workDir, "liquibase.properties");
  }
  let fromDefaults: DefaultsFileValues = {
    changelogFile: null,
    searchPath: null,
    classpath: null,
    contexts: null,
    labels: null,
  };
  let defaultsHash: string | null = null;
  if (defaultsFile !== null) {
    let text: string;
    try {
      text = Deno.readTextFileSync(defaultsFile);
    } catch (error) {
      throw invalidArgument(
        `Cannot read the Liquibase defaults file ${defaultsFile}: ${(error as Error).message}`,
        {
          path: defaultsFile,
        },
      );
    }
    fromDefaults = checkDefaultsFile(defaultsFile, text);
    defaultsHash = createHash("sha256").update(text).digest("hex");
  }

  const searchValue = c.values.get("search-path") ?? fromDefaults.searchPath;
  const searchOption = c.values.has("search-path") ? "--search-path" : `searchPath in ${defaultsFile}`;
  const searchPath = searchValue === null ? [] : resolveSearchPath(searchValue, workDir, searchOption);
  const localSearch = searchPath.filter((entry) => !isReference(entry));
  const roots = searchValue === null ? [workDir] : localSearch.filter(isDirectory);

  const changelogValue = c.values.get("changelog-file") ?? fromDefaults.changelogFile;
  if (changelogValue === null) throw invalidArgument("Missing --changelog-file (the root changelog)");
  const changelog = resolveChangelog(changelogValue, roots, searchPath.length > localSearch.length);

  let count: number | null = null;
  const countValue = c.values.get("count");
  if (command === "update-count") {
    if (countValue === undefined) throw invalidArgument("update-count needs --count N");
    if (!/^\d+$/.test(countValue.trim()) || Number(countValue) < 1) {
      throw invalidArgument(`--count must be a positive integer, not ${JSON.stringify(countValue)}`);
    }
    count = Number(countValue);
  } else if (countValue !== undefined) {
    throw invalidArgument(`--count is only for update-count (the command is ${command})`, {
      option: "--count",
    });
  }
  let tag: string | null = null;
  const tagValue = c.values.get("tag");
  if (command === "update-to-tag") {
    if (tagValue === undefined || tagValue.trim() === "") {
      throw invalidArgument("update-to-tag needs --tag TAG");
    }
    tag = tagValue;
  } else if (tagValue !== undefined) {
    throw invalidArgument(`--tag is only for update-to-tag (the command is ${command})`, { option: "--tag" });
  }

  const contexts = c.values.get("context-filter") ?? fromDefaults.contexts;
  const labels = c.values.get("label-filter") ?? fromDefaults.labels;
  const params = [...c.params].map(([name, value]) => `-D${name}=${value}`);
  const keyed = [...c.keyed, ...params];
  if (defaultsHash !== null) keyed.push(`defaults-file-sha256=${defaultsHash}`);

  const classpathValue = c.values.get("classpath") ?? fromDefaults.classpath;
  const classpathOption = c.values.has("classpath") ? "--classpath" : `classpath in ${defaultsFile}`;
  const classpath = classpathValue === null ? [] : resolveClasspath(classpathValue, workDir, classpathOption);

  const files = [
    ...(defaultsFile === null ? [] : [defaultsFile]),
    ...(isReference(changelog.file) || !isAbsolute(changelog.file) ? [] : [changelog.file]),
  ].filter((path) => !isDirectory(path));
  const commandOptions = [...c.commandOpts, ...params];
  return {
    command,
    count,
    tag,
    changelogFile: changelog.file,
    changelogArg: changelog.arg,
    searchPath,
    classpath,
    contexts,
    labels,
    defaultsFile,
    passthrough: [...c.global, ...commandOptions],
    globalOptions: c.global,
    commandOptions,
    keyedOptions: [...new Set(keyed)].sort(),
    files: [...new Set(files)],
    roots,
  };
}

function globalArgs(a: LiquibaseArgs): string[] {
  return [
    ...(a.defaultsFile === null ? [] : [`--defaults-file=${a.defaultsFile}`]),
    ...(a.searchPath.length === 0 ? [] : [`--search-path=${a.searchPath.join(",")}`]),
    ...(a.classpath.length === 0 ? [] : [`--classpath=${a.classpath.join(":")}`]),
    ...a.globalOptions,
  ];
}

function commandArgs(a: LiquibaseArgs, forPlan: boolean): string[] {
  return [
    `--changelog-file=${a.changelogArg}`,
    ...(a.contexts === null ? [] : [`--context-filter=${a.contexts}`]),
    ...(a.labels === null ? [] : [`--label-filter=${a.labels}`]),
    ...a.commandOptions.filter((option) => !forPlan || !option.startsWith("--show-summary")),
  ];
}

/**
 * The Liquibase args (no connection options) that print the pending changesets' SQL without changing
 * anything: `update-sql`, `update-count-sql --count N` or `update-to-tag-sql --tag T`. Run with the
 * work dir as cwd; parse the output with `parsePendingChangesets`. The log level is FINE (on stderr),
 * whatever the user asked for: its `Matched file` lines name every changelog Liquibase parsed
 * (see `parsedChangelogs`).
 */
export function planArgs(a: LiquibaseArgs): string[] {
  const limit = a.command === "update-count"
    ? [`--count=${a.count}`]
    : a.command === "update-to-tag"
    ? [`--tag=${a.tag}`]
    : [];
  const global = globalArgs(a).filter((option) => !option.startsWith("--log-level="));
  return [...global, "--log-level=FINE", `${a.command}-sql`, ...commandArgs(a, true), ...limit];
}

/**
 * The Liquibase args (no connection options) that apply the next `count` pending changesets in one
 * run: `update-count --count N` (with nothing pending it still creates Liquibase's tables).
 */
export function applyArgs(a: LiquibaseArgs, count: number): string[] {
  return [...globalArgs(a), "update-count", ...commandArgs(a, false), `--count=${count}`];
}

/**
 * The context and label filters as keyed options (`--context-filter=…`, `--label-filter=…`), for a
 * changeset whose printed SQL cannot show how they change it (a `customChange` prints none).
 */
export function contextOptions(a: LiquibaseArgs): string[] {
  return [
    ...(a.contexts === null ? [] : [`--context-filter=${a.contexts}`]),
    ...(a.labels === null ? [] : [`--label-filter=${a.labels}`]),
  ];
}
