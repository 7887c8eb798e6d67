/**
 * `run:psql` with no psql arguments on a terminal: an interactive psql session. The engine's runs
 * stream output and cannot give psql a terminal, so the local psql connects to the instance's DSN
 * itself and inherits this terminal (line editing, paging, Ctrl+C cancels a query).
 *
 * @module
 */

import { join } from "node:path";
import { parseDuration } from "../shared/duration.ts";
import { invalidArgument } from "../shared/errors.ts";
import { consumeRun } from "../client/run_output.ts";
import type { CliContext } from "./context.ts";
import { EXIT, ExitError } from "./exit_codes.ts";
import { err } from "./output.ts";

/** Whether a `run:psql` with these arguments opens an interactive session: none, on a terminal. */
export function wantsInteractivePsql(args: readonly string[]): boolean {
  return args.length === 0 && Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
}

/** The psql to run: `$SQLRS_PG_BIN/psql`, else the one on PATH. */
function psqlPath(): string {
  const bin = Deno.env.get("SQLRS_PG_BIN");
  return bin === undefined || bin === "" ? "psql" : join(bin, "psql");
}

/** libpq's environment for a DSN: the password goes there, not on a command line others can read. */
function connectionEnv(dsn: string, statementTimeout: string | undefined): Record<string, string> {
  const url = new URL(dsn);
  const env: Record<string, string> = {
    PGHOST: url.hostname,
    PGPORT: url.port,
    PGUSER: decodeURIComponent(url.username),
    PGPASSWORD: decodeURIComponent(url.password),
    PGDATABASE: decodeURIComponent(url.pathname.slice(1)) || "postgres",
  };
  if (statementTimeout !== undefined) {
    let ms: number;
    try {
      ms = parseDuration(statementTimeout);
    } catch (error) {
      throw invalidArgument(`Invalid --statement-timeout: ${(error as Error).message}`);
    }
    env.PGOPTIONS = `-c statement_timeout=${ms}`;
  }
  return env;
}

/**
 * Opens psql on the terminal against an instance, restarting its server first (through the engine, as
 * any run does) when it is not running; returns psql's exit code.
 */
export async function interactivePsql(
  context: CliContext,
  instanceRef: string,
  statementTimeout: string | undefined,
): Promise<number> {
  const client = await context.client();
  let instance = await client.instance(instanceRef);
  if (instance.status !== "running") {
    const restart = client.run({ instance_ref: instance.instance_id, kind: "psql", args: ["-q", "-c", ""] });
    await consumeRun(restart, { output: () => {}, log: err });
    instance = await client.instance(instance.instance_id);
  }
  const env = connectionEnv(instance.dsn, statementTimeout);
  // Ctrl+C belongs to psql (it cancels the running query); sqlrs waits for psql to end.
  const ignore = () => {};
  Deno.addSignalListener("SIGINT", ignore);
  try {
    const { code } = await new Deno.Command(psqlPath(), {
      env,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    return code;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new ExitError(
      EXIT.unsupported,
      `run:psql without arguments on a terminal runs the local psql, and ${psqlPath()} was not found: ` +
        "install the PostgreSQL client (e.g. apt-get install postgresql-client) or set SQLRS_PG_BIN",
    );
  } finally {
    Deno.removeSignalListener("SIGINT", ignore);
  }
}
