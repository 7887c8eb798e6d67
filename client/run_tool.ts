/**
 * Runs psql or pgbench against an instance for the library (`mod.ts`), collecting or streaming its
 * output.
 *
 * @module
 */

import { runRequestFor } from "./requests.ts";
import { consumeRun } from "./run_output.ts";
import { type ClientOptions, openSession, type Session } from "./session.ts";

/**
 * Which tool to run and how its output is delivered.
 *
 * @example Stream pgbench's progress while it runs
 * ```ts
 * import type { InstanceRunOptions } from "@sqlrs/sqlrs";
 * const options: InstanceRunOptions = {
 *   pgbench: ["-T", "10", "-P", "1"],
 *   collect: false,
 *   onOutput: (_stream, data) => Deno.stderr.write(data).then(() => {}),
 * };
 * ```
 */
export interface InstanceRunOptions {
  /** psql args (the connection is added for you; `-d NAME` picks a database). @default [] */
  psql?: readonly string[] | undefined;
  /** pgbench args instead of psql. */
  pgbench?: readonly string[] | undefined;
  /** What psql reads on stdin when the args have no `-c`/`-f` (or have `-f -`). */
  stdin?: string | undefined;
  /** Aborting stops the run (the tool is killed) and rejects with the abort reason. */
  signal?: AbortSignal | undefined;
  /** Called with each chunk of output as it arrives, before the next is read. */
  onOutput?: ((stream: "stdout" | "stderr", data: Uint8Array) => void | Promise<void>) | undefined;
  /** Whether to keep the output for {@link RunResult}; turn off for large output. @default true */
  collect?: boolean | undefined;
  /**
   * PostgreSQL's `statement_timeout` for the tool's sessions, e.g. `30s`.
   * @default the workspace config's `defaults.statementTimeout`, else none
   */
  statementTimeout?: string | undefined;
}

/**
 * {@link InstanceRunOptions} plus the instance and how to reach the engine.
 *
 * @example
 * ```ts
 * import type { RunOptions } from "@sqlrs/sqlrs";
 * const options: RunOptions = { instance: "dev", psql: ["-f", "queries.sql"] };
 * ```
 */
export interface RunOptions extends InstanceRunOptions, ClientOptions {
  /** An instance id, an 8+ hex prefix of one, or a name. */
  instance: string;
}

/**
 * How a run ended. A non-zero exit code is the tool's own result, not an exception.
 *
 * @example
 * ```ts
 * import type { RunResult } from "@sqlrs/sqlrs";
 * function rows(result: RunResult): string[] {
 *   if (result.exitCode !== 0) throw new Error(`psql exited ${result.exitCode}: ${result.stderr}`);
 *   return result.stdout.trimEnd().split("\n");
 * }
 * ```
 */
export interface RunResult {
  /** The tool's exit code (psql: 1 for an SQL error, 3 for a script stopped by ON_ERROR_STOP). */
  exitCode: number;
  /** The tool's stdout as text ("" when `collect` is false). */
  stdout: string;
  /** The tool's stderr as text ("" when `collect` is false). */
  stderr: string;
}

/** Runs the tool `options` name against their instance; the exit code is a result, not an error. */
export async function runTool(options: RunOptions): Promise<RunResult> {
  using session = await openSession(options);
  return await runToolIn(session, options);
}

/** As {@link runTool}, over an open session. */
export async function runToolIn(session: Session, options: RunOptions): Promise<RunResult> {
  if (options.psql !== undefined && options.pgbench !== undefined) {
    throw new TypeError("Cannot run: give psql or pgbench, not both");
  }
  const kind = options.pgbench !== undefined ? "pgbench" : "psql";
  const request = await runRequestFor(kind, options.instance, options.pgbench ?? options.psql ?? [], {
    cwd: session.cwd,
    stdin: () => Promise.resolve(options.stdin),
    statementTimeout: options.statementTimeout ?? session.statementTimeout,
  });
  const collect = options.collect !== false;
  const text = { stdout: "", stderr: "" };
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  const exitCode = await consumeRun(session.client.run(request, options.signal), {
    output: async (stream, data) => {
      if (collect) text[stream] += decoders[stream].decode(data, { stream: true });
      await options.onOutput?.(stream, data);
    },
  });
  if (collect) {
    text.stdout += decoders.stdout.decode();
    text.stderr += decoders.stderr.decode();
  }
  return { exitCode, ...text };
}
