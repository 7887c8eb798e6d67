/**
 * `run:psql` and `run:pgbench`: run the tool against an instance, forwarding its stdout and stderr
 * byte for byte as they arrive, and exit with its exit code.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import type { RunRequest } from "../../shared/schemas.ts";
import { SqlrsError } from "../../shared/errors.ts";
import { consumeRun } from "../../client/run_output.ts";
import { runRequestFor } from "../../client/requests.ts";
import type { CliContext } from "../context.ts";
import { readStdin } from "../tool_args.ts";
import { err } from "../output.ts";
import { loadCliConfig } from "../../client/config.ts";
import { interactivePsql, wantsInteractivePsql } from "../interactive_psql.ts";

type Context = () => CliContext;

/** Builds the run request for a tool and its args. */
export async function runRequest(
  kind: "psql" | "pgbench",
  instanceRef: string,
  args: readonly string[],
  statementTimeout?: string,
): Promise<RunRequest> {
  return await runRequestFor(kind, instanceRef, args, {
    cwd: Deno.cwd(),
    stdin: readStdin,
    statementTimeout: statementTimeout ?? (await loadCliConfig()).statementTimeout,
  });
}

/** The help of `--statement-timeout`, for prepare and run commands. */
export const STATEMENT_TIMEOUT_HELP =
  "PostgreSQL's statement_timeout for each statement, e.g. 30s (a statement running longer fails; unlike --timeout, which bounds sqlrs's requests to the engine)";

/** Streams a run to this process's stdout/stderr and returns the tool's exit code. */
export async function streamRun(context: CliContext, request: RunRequest): Promise<number> {
  const client = await context.client();
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    return await consumeRun(client.run(request, abort.signal), {
      output: (stream, data) => writeAll(stream === "stdout" ? Deno.stdout : Deno.stderr, data),
      log: context.verbose ? err : undefined,
    });
  } catch (error) {
    if (abort.signal.aborted) return 130;
    throw error;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}

/**
 * Runs the tool against an instance through the engine, streaming its output; `run:psql` with no
 * arguments on a terminal opens an interactive psql instead. Returns the tool's exit code.
 */
export async function runTool(
  context: CliContext,
  kind: "psql" | "pgbench",
  instanceRef: string,
  args: readonly string[],
  statementTimeout: string | undefined,
): Promise<number> {
  if (kind === "psql" && wantsInteractivePsql(args)) {
    return await interactivePsql(
      context,
      instanceRef,
      statementTimeout ?? (await loadCliConfig()).statementTimeout,
    );
  }
  return await streamRun(context, await runRequest(kind, instanceRef, args, statementTimeout));
}

async function writeAll(target: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await target.write(bytes.subarray(offset));
}

function runCommand(kind: "psql" | "pgbench", context: Context, setExit: (code: number) => void) {
  return new Command(`run:${kind}`)
    .description(`Run ${kind} against an instance (the connection is added for you)`)
    .usage(`--instance <id|prefix|name> [--] [${kind} args...]`)
    .option("--instance <ref>", "instance id, 8+ hex prefix, or name")
    .option("--statement-timeout <duration>", STATEMENT_TIMEOUT_HELP)
    .argument(`[${kind}-args...]`, `${kind} arguments`)
    .passThroughOptions()
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (args, flags) => {
      if (flags.instance === undefined) {
        throw new SqlrsError(
          "invalid_argument",
          `run:${kind} needs --instance <id|prefix|name> (or use it after prepare:psql)`,
        );
      }
      setExit(await runTool(context(), kind, flags.instance, args, flags.statementTimeout));
    });
}

/** `run:psql`. */
export function runPsqlCommand(context: Context, setExit: (code: number) => void) {
  return runCommand("psql", context, setExit);
}

/** `run:pgbench`. */
export function runPgbenchCommand(context: Context, setExit: (code: number) => void) {
  return runCommand("pgbench", context, setExit);
}
