/**
 * Run arguments against the connection the engine injects: host, port, user and connection
 * strings are refused; a plain database name (`psql -d NAME`, `pgbench … NAME`) selects a database
 * of the instance.
 *
 * @module
 */

import { invalidArgument } from "../../shared/errors.ts";
import { renderToken, tokenize, type ToolName } from "../../shared/tool_options.ts";

/** Options that would point the tool somewhere else (by name in shared/tool_options.ts). */
const CONNECTION_OPTIONS = new Set(["host", "port", "username"]);

function plainDatabase(kind: string, value: string): string {
  if (/[=/:@\s]/.test(value) || value === "") {
    throw invalidArgument(
      `"${value}" is a connection string; ${kind} is connected to the instance for you, pass only a database name`,
    );
  }
  return value;
}

/** Run args with the database selection taken out. */
export interface RunArgs {
  args: string[];
  database: string | undefined;
}

/**
 * Checks `args` and takes out the database selection (psql's `-d`/`--dbname`, or a positional name).
 * Options are read as the tool reads them (shared/tool_options.ts), so `-Atc SQL` and `-Atd NAME`
 * work; the args handed on are the same options, one per word.
 * @throws {SqlrsError} `invalid_argument` naming a connection option or connection string
 */
export function parseRunArgs(kind: ToolName, args: readonly string[]): RunArgs {
  const kept: string[] = [];
  let database: string | undefined;
  for (const token of tokenize(kind, args)) {
    if (token.kind === "option" && CONNECTION_OPTIONS.has(token.option.name)) {
      throw invalidArgument(
        `Connection option "${token.flag}" conflicts with the instance's connection; sqlrs connects ${kind} for you`,
      );
    }
    const selected = token.kind === "positional"
      ? token.value
      : token.kind === "option" && kind === "psql" && token.option.name === "dbname"
      ? token.value ?? ""
      : undefined;
    if (selected === undefined) {
      kept.push(...renderToken(token));
      continue;
    }
    if (database !== undefined && token.kind === "positional") {
      throw invalidArgument(`Unexpected argument "${selected}": the database is already "${database}"`);
    }
    database = plainDatabase(kind, selected);
  }
  return { args: kept, database };
}
