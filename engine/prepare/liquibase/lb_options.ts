/**
 * The Liquibase options and commands sqlrs knows, and what it does with each: passes it on keyed or
 * cosmetic, drops it, or refuses it with the reason (see `lb_args.ts`). Any spelling works: kebab-case,
 * camelCase or a defaults-file key.
 *
 * @module
 */

/** The Liquibase commands sqlrs accepts. */
export type LiquibaseCommand = "update" | "update-count" | "update-to-tag";

/** Where an option goes: before the command (global) or after it. */
export type Scope = "global" | "command";

/** What sqlrs does with an option. */
export type Treatment =
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

/** A known option: its canonical name and treatment. */
export interface OptionSpec {
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
/** Why options that only print something are refused. */
export const EXITS = "it prints information and exits without preparing anything";

const OPTIONS = new Map<string, OptionSpec>();

function add(names: string[], treatment: Treatment): void {
  const canonical = names[0] as string;
  for (const name of names) OPTIONS.set(normalizeName(name), { canonical, treatment });
}

/** `--changeLogFile`, `--changelog-file` and `changelog_file` all become `changelogfile`. */
export function normalizeName(name: string): string {
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

/** The accepted commands by normalized name (`updateCount` and `update-count` alike). */
export const COMMANDS = new Map<string, LiquibaseCommand>([
  ["update", "update"],
  ["updatecount", "update-count"],
  ["updatetotag", "update-to-tag"],
]);

/** What to use instead of a refused command that a user may well try. */
export const COMMAND_HINTS = new Map<string, string>([
  ["updatesql", "use sqlrs plan:lb to see the pending changesets"],
  ["updatecountsql", "use sqlrs plan:lb to see the pending changesets"],
  ["updatetotagsql", "use sqlrs plan:lb to see the pending changesets"],
]);

/** The option spelled `rawName` (any spelling), a refused family member, or null when unknown. */
export function lookup(rawName: string): OptionSpec | null {
  const key = normalizeName(rawName);
  const spec = OPTIONS.get(key);
  if (spec !== undefined) return spec;
  for (const [prefix, reason] of REFUSED_PREFIXES) {
    if (key.startsWith(prefix)) return { canonical: rawName, treatment: { kind: "refused", reason } };
  }
  return null;
}
