/**
 * A library session: one engine connection (and one read of the CLI config) for many `prepare`, `run`
 * and `reset` calls, where each of the library's functions otherwise connects on its own.
 *
 * @module
 */

import { jobRequest, type PrepareOptions, runJob } from "./prepare_job.ts";
import { Prepared, type PreparedInstance } from "./prepared_instance.ts";
import { type RunOptions, type RunResult, runToolIn } from "./run_tool.ts";
import { borrowed, type ClientOptions, clientOptionsOf, openSession, type Session } from "./session.ts";

/**
 * Prepares an instance over `session`; the instance's later calls open sessions with `connect`.
 */
export async function prepareIn(
  session: Session,
  options: PrepareOptions,
  connect: () => Promise<Session>,
): Promise<PreparedInstance> {
  const finished = await runJob(session.client, await jobRequest(session, options, false), options);
  return new Prepared(finished, { ...clientOptionsOf(options), cwd: session.cwd }, connect);
}

/**
 * One connection to the engine for many calls: the engine is found (or started) and the CLI config
 * read once, not per call as the library's functions do. Instances it prepares use it for `run`,
 * `reset` and `delete` while it is open. Close it (`using`) when done: it holds an HTTP client.
 *
 * @example
 * ```ts
 * import { session } from "@sqlrs/sqlrs";
 * using sqlrs = await session();
 * for (let i = 0; i < 3; i++) {
 *   await using db = await sqlrs.prepare({ psql: ["-c", "create table t(id int)"] });
 *   await db.run({ psql: ["-c", "select count(*) from t"] });
 * }
 * ```
 */
export interface SqlrsSession extends Disposable {
  /** As `prepare()`; the client options are the session's. */
  prepare(options: Omit<PrepareOptions, keyof ClientOptions>): Promise<PreparedInstance>;
  /** As `run()`. */
  run(options: Omit<RunOptions, keyof ClientOptions>): Promise<RunResult>;
  /** As `reset()`. */
  reset(instance: string): Promise<void>;
  /** Closes the connection; instances it prepared open their own from then on. */
  close(): void;
}

/** Opens a {@link SqlrsSession}. */
export async function openLibrarySession(options: ClientOptions): Promise<SqlrsSession> {
  const opened = await openSession(options);
  const clientOptions = { ...clientOptionsOf(options), cwd: opened.cwd };
  let closed = false;
  const connect = () => closed ? openSession(clientOptions) : Promise.resolve(borrowed(opened));
  const close = () => {
    if (!closed) opened[Symbol.dispose]();
    closed = true;
  };
  return {
    prepare: (prepareOptions) => prepareIn(opened, { ...clientOptions, ...prepareOptions }, connect),
    run: (runOptions) => runToolIn(opened, { ...clientOptions, ...runOptions }),
    reset: async (instance) => {
      await opened.client.resetInstance(instance);
    },
    close,
    [Symbol.dispose]: close,
  };
}
