/**
 * Session settings a tool's connection carries from its first statement: `statement_timeout` goes
 * in the libpq `options` of the database the tool is given (psql `-d`, pgbench's positional name),
 * which both read as a connection string. A setting made this way is the session's default, so
 * `DISCARD ALL` and `RESET ALL` between steps keep it, and psql's `\connect` reuses it.
 *
 * @module
 */

import { parseDuration } from "../shared/duration.ts";

function conninfoValue(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/**
 * The database argument for a tool: `database` itself without a timeout, else a connection string
 * naming it (default `postgres`) with `statement_timeout` set, in milliseconds.
 *
 * @example
 * ```ts
 * import { toolDatabase } from "./session_options.ts";
 * const database = toolDatabase(undefined, "5s");
 * if (database !== "dbname='postgres' options='-c statement_timeout=5000'") throw new Error(database);
 * ```
 */
export function toolDatabase(
  database: string | undefined,
  statementTimeout: string | undefined,
): string | undefined {
  if (statementTimeout === undefined) return database;
  const ms = parseDuration(statementTimeout);
  return `dbname=${conninfoValue(database ?? "postgres")} options=${
    conninfoValue(`-c statement_timeout=${ms}`)
  }`;
}
