/**
 * The prepare kinds (`prepare:<kind>`, `plan:<kind>`), for everything that must know them without the
 * engine: the CLI builds its commands from this list, recipes and `cache explain` accept these names,
 * and the engine's registry (`engine/prepare/kinds.ts`) holds one implementation per name (the compiler
 * refuses a name without one).
 *
 * Adding a kind: its name and {@link PrepareKindInfo} here, its request in `shared/schemas/jobs.ts`,
 * its folder `engine/prepare/<kind>/` and one line in `engine/prepare/kinds.ts`.
 *
 * @module
 */

import { takesNextArg } from "./tool_options.ts";

/** Every prepare kind, in the order the CLI lists its commands. */
export const PREPARE_KINDS = ["psql", "lb"] as const;

/** A prepare kind's name (`prepare_kind` of a request). */
export type PrepareKindName = (typeof PREPARE_KINDS)[number];

/** Whether `value` names a prepare kind. */
export function isPrepareKindName(value: unknown): value is PrepareKindName {
  return (PREPARE_KINDS as readonly unknown[]).includes(value);
}

/** What the CLI shows and needs to know of a kind. */
export interface PrepareKindInfo {
  /** The tool, as usage lines name its arguments: `-- [psql args...]`. */
  tool: string;
  /** What the tool's arguments are. */
  argsHelp: string;
  /** What `prepare:<kind>` does. */
  prepareDescription: string;
  /** What `plan:<kind>` does. */
  planDescription: string;
  /** Text after the options in `prepare:<kind> --help`. */
  prepareHelp: string;
  /**
   * Whether the tool option `token` takes the next argument as its value, so that the value is never
   * read as the start of a composite run stage (`-c run:psql` is SQL, not a stage).
   */
  takesValue(token: string): boolean;
}

const LIQUIBASE_VALUE_FLAGS = new Set([
  "--changelog-file",
  "--defaults-file",
  "--searchPath",
  "--search-path",
]);

const LIQUIBASE_ARGS =
  "update --changelog-file FILE [--search-path …] [--contexts …] [--labels …] [--classpath …]";

/** Each kind's {@link PrepareKindInfo}. */
export const PREPARE_KIND_INFO: Record<PrepareKindName, PrepareKindInfo> = {
  psql: {
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
  lb: {
    tool: "liquibase",
    argsHelp: LIQUIBASE_ARGS,
    prepareDescription:
      "Build (or reuse) a state from a Liquibase changelog, one state per changeset, and start an instance",
    planDescription: "Show the pending Liquibase changesets as steps and which are cached",
    prepareHelp: `
Each pending changeset is a step with its own cached state. Prints DSN=postgres://... of the new
instance on stdout; a run stage can follow (run:psql -- ...), as for prepare:psql.`,
    takesValue: (token) => LIQUIBASE_VALUE_FLAGS.has(token),
  },
};

/** The `prepare:<kind>` command of each kind. */
export const PREPARE_COMMANDS: readonly string[] = PREPARE_KINDS.map((kind) => `prepare:${kind}`);
