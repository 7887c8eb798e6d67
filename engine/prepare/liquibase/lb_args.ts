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
import { isAbsolute, join, resolve } from "node:path";
import { invalidArgument } from "../../../shared/errors.ts";
import { checkDefaultsFile, type DefaultsFileValues } from "./lb_defaults_file.ts";
import {
  COMMAND_HINTS,
  COMMANDS,
  EXITS,
  type LiquibaseCommand,
  lookup,
  normalizeName,
} from "./lb_options.ts";
import {
  exists,
  isDirectory,
  isReference,
  resolveChangelog,
  resolveClasspath,
  resolveSearchPath,
} from "./lb_paths.ts";

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
