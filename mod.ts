/**
 * sqlrs as a library: prepare PostgreSQL states from psql scripts (or Liquibase changelogs), get a
 * running instance of one, run psql or pgbench against it, list and delete what the engine holds, and
 * follow jobs, all typed with the API's schemas (`@sqlrs/sqlrs/schemas`).
 *
 * Every function finds the local engine or starts one exactly as the `sqlrs` CLI does (the same state
 * directory, `engine.json`, CLI config and workspace `.sqlrs/config.yaml`), so a test suite needs no
 * other setup. An engine started from here runs this module's own `engine/main.ts`.
 *
 * @example A database per test
 * ```ts
 * import * as sqlrs from "@sqlrs/sqlrs";
 *
 * Deno.test("the table starts empty", async () => {
 *   await using db = await sqlrs.prepare({ psql: ["-c", "create table t(id int)"] });
 *   const result = await db.run({ psql: ["-A", "-t", "-c", "select count(*) from t"] });
 *   if (result.exitCode !== 0 || result.stdout !== "0\n") throw new Error(result.stderr);
 * }); // the instance is deleted here; the state stays cached for the next test
 * ```
 *
 * @module
 */

import { type ClientOptions, clientOptionsOf, openSession } from "./client/session.ts";
import type { EngineClient } from "./client/engine_client.ts";
import { followJobEvents } from "./client/follow_job.ts";
import {
  jobRequest,
  type Plan,
  planOf,
  type PlanOptions,
  type PrepareOptions,
  runJob,
  type WatchOptions,
} from "./client/prepare_job.ts";
import type { PreparedInstance } from "./client/prepared_instance.ts";
import { openLibrarySession, prepareIn, type SqlrsSession } from "./client/library_session.ts";
import { type RunOptions, type RunResult, runTool } from "./client/run_tool.ts";
import { listKind, type ListKinds, type LsOptions, removeRef, type RmOptions } from "./client/inventory.ts";
import type { DeleteResult, EngineStatus, PrepareJobEvent } from "./shared/schemas.ts";

export { ApiError, EngineClient, EngineUnreachableError } from "./client/engine_client.ts";
export { SqlrsError } from "./shared/errors.ts";
export type { ErrorCode } from "./shared/errors.ts";
export type { UploadStats } from "./client/sources/upload.ts";
export type {
  DeleteResult,
  DeleteTreeNode,
  EngineStatus,
  InstanceEntry,
  NameEntry,
  PrepareJobEntry,
  PrepareJobEvent,
  PrepareJobResult,
  PrepareJobStatus,
  PreparePlanTask,
  RunEvent,
  StateEntry,
  TaskEntry,
} from "./shared/schemas.ts";

export type { ClientOptions } from "./client/session.ts";
export type { Plan, PlanOptions, PrepareOptions, WatchOptions } from "./client/prepare_job.ts";
export type { PreparedInstance } from "./client/prepared_instance.ts";
export type { InstanceRunOptions, RunOptions, RunResult } from "./client/run_tool.ts";
export type { ListKinds, LsOptions, RmOptions } from "./client/inventory.ts";
export type { SqlrsSession } from "./client/library_session.ts";

// ---------------------------------------------------------------------------------------------------
// Connecting

/**
 * Connects to the local engine, starting one when none runs, for direct use of the API client.
 * Dispose of the client (`using`) to close its connections.
 *
 * @example
 * ```ts
 * import { connect } from "@sqlrs/sqlrs";
 * using engine = await connect();
 * const health = await engine.health();
 * if (!health.ok) throw new Error("the engine is not healthy");
 * ```
 */
export async function connect(options: ClientOptions = {}): Promise<EngineClient> {
  return (await openSession(options)).client;
}

/**
 * The engine's status: versions, store, available runtimes and snapshot backends, object counts.
 *
 * @example
 * ```ts
 * import { status } from "@sqlrs/sqlrs";
 * const { version, snapshotBackends } = await status();
 * console.log(version, snapshotBackends.find((backend) => backend.selected)?.name);
 * ```
 */
export async function status(options: ClientOptions = {}): Promise<EngineStatus> {
  using session = await openSession(options);
  return await session.client.status();
}

// ---------------------------------------------------------------------------------------------------
// Prepare and plan

/**
 * Builds (or reuses from the cache) the state the psql scripts or Liquibase changelog describe, and
 * starts an instance of it. Only steps whose inputs changed run again.
 *
 * @throws {SqlrsError} `step_failed` when a step fails (the message has psql's error), `cancelled`
 * when `signal` aborts
 * @example Prepare from a script, use the DSN, delete the instance
 * ```ts
 * import { prepare } from "@sqlrs/sqlrs";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/schema.sql`, "create table users(id int primary key);");
 * await using db = await prepare({ psql: ["-f", "schema.sql"], cwd: dir });
 * const { exitCode } = await db.run({ psql: ["-c", "insert into users values (1)"] });
 * if (exitCode !== 0) throw new Error("insert failed");
 * ```
 */
export async function prepare(options: PrepareOptions): Promise<PreparedInstance> {
  using session = await openSession(options);
  const clientOptions = { ...clientOptionsOf(options), cwd: session.cwd };
  return await prepareIn(session, options, () => openSession(clientOptions));
}

/**
 * The steps a {@link prepare} with these options would run, with their state ids and whether each is
 * already cached; nothing is built and no instance starts.
 *
 * @example
 * ```ts
 * import { plan } from "@sqlrs/sqlrs";
 * const { tasks, finalStateId, cached } = await plan({ psql: ["-c", "create table t(id int)"] });
 * console.log(tasks.length, finalStateId, cached ? "all cached" : "will build");
 * ```
 */
export async function plan(options: PlanOptions): Promise<Plan> {
  using session = await openSession(options);
  return planOf(await runJob(session.client, await jobRequest(session, options, true), options));
}

/**
 * Follows a prepare job's events until it ends, e.g. one started by `sqlrs prepare:psql --no-watch`.
 * A dropped connection is resumed from the last event seen; when the engine goes away, following
 * goes on with the next engine (started if need be), which resumes the job.
 *
 * @example
 * ```ts
 * import { ls, watch } from "@sqlrs/sqlrs";
 * const [job] = await ls("jobs");
 * if (job !== undefined) {
 *   for await (const event of watch(job.job_id)) console.log(event.ts, event.type, event.status ?? "");
 * }
 * ```
 */
export async function* watch(
  jobId: string,
  options: WatchOptions = {},
): AsyncGenerator<PrepareJobEvent, void, undefined> {
  using session = await openSession(options);
  yield* followJobEvents(session.client, jobId, {
    from: options.from,
    signal: options.signal,
    stallTimeoutMs: options.timeoutMs,
  });
}

// ---------------------------------------------------------------------------------------------------
// Run

/**
 * Runs psql or pgbench against an instance and returns its exit code and output. With psql, each
 * `-c`/`-f` runs as its own step, files read here (relative to `cwd`).
 *
 * @example
 * ```ts
 * import { prepare, run } from "@sqlrs/sqlrs";
 * await using db = await prepare({ psql: ["-c", "create table t as select 42 as answer"] });
 * const result = await run({ instance: db.instanceId, psql: ["-A", "-t", "-c", "select answer from t"] });
 * if (result.stdout !== "42\n") throw new Error(result.stderr);
 * ```
 */
export async function run(options: RunOptions): Promise<RunResult> {
  return await runTool(options);
}

// ---------------------------------------------------------------------------------------------------
// Inventory

/**
 * Lists names, instances, states, prepare jobs or tasks.
 *
 * @example
 * ```ts
 * import { ls } from "@sqlrs/sqlrs";
 * for (const instance of await ls("instances")) console.log(instance.instance_id, instance.dsn);
 * ```
 */
export async function ls<K extends keyof ListKinds>(
  kind: K,
  options: LsOptions = {},
): Promise<ListKinds[K][]> {
  return await listKind(kind, options);
}

/**
 * Deletes an instance (by id, prefix or name), a state (8+ hex prefix; with `recurse`, its tree) or a
 * job (full id). A delete refused by a safety rule is not an exception: `outcome` is `"blocked"` and
 * the tree says why.
 *
 * @throws {SqlrsError} `not_found` when nothing matches, `ambiguous` when several things do,
 * `invalid_argument` for a hex prefix shorter than 8
 * @example
 * ```ts
 * import { prepare, rm } from "@sqlrs/sqlrs";
 * const db = await prepare({ psql: ["-c", "select 1"] });
 * const result = await rm(db.instanceId);
 * if (result.outcome !== "deleted") throw new Error(`not deleted: ${result.outcome}`);
 * ```
 */
export async function rm(ref: string, options: RmOptions = {}): Promise<DeleteResult> {
  return await removeRef(ref, options);
}

// ---------------------------------------------------------------------------------------------------
// Reset and sessions

/**
 * Returns an instance (id, 8+ hex prefix or name) to the state it was prepared from, discarding every
 * change; its name, port and credentials stay, so its DSN stays valid. Open connections are closed.
 *
 * @throws {SqlrsError} `not_found` when no instance matches, `ambiguous` when several do
 * @example
 * ```ts
 * import { prepare, reset } from "@sqlrs/sqlrs";
 * await using db = await prepare({ psql: ["-c", "create table t(id int)"] });
 * await db.run({ psql: ["-c", "insert into t values (1)"] });
 * await reset(db.instanceId); // t is empty again, db.dsn unchanged
 * ```
 */
export async function reset(instance: string, options: ClientOptions = {}): Promise<void> {
  using session = await openSession(options);
  await session.client.resetInstance(instance);
}

/**
 * Opens a {@link SqlrsSession}: one engine connection and one read of the CLI config for many calls.
 *
 * @example
 * ```ts
 * import { session } from "@sqlrs/sqlrs";
 * using sqlrs = await session();
 * await using db = await sqlrs.prepare({ psql: ["-c", "create table t(id int)"] });
 * await db.reset();
 * ```
 */
export async function session(options: ClientOptions = {}): Promise<SqlrsSession> {
  return await openLibrarySession(options);
}
