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

import { loadCliConfig } from "./client/config.ts";
import { connectEngine } from "./client/discovery.ts";
import { remoteClient, selectedProfile } from "./client/profiles.ts";
import { ApiError, type EngineClient } from "./client/engine_client.ts";
import { moduleEngineCommand } from "./client/engine_command.ts";
import { followJob, followJobEvents, requireSucceeded } from "./client/follow_job.ts";
import { lbPrepareRequest, psqlPrepareRequest, runRequestFor } from "./client/requests.ts";
import { resolveDeleteTarget } from "./client/resolve.ts";
import { consumeRun } from "./client/run_output.ts";
import type { UploadStats } from "./client/sources/upload.ts";
import { SqlrsError } from "./shared/errors.ts";
import { type EnvLookup, sqlrsPaths } from "./shared/paths.ts";
import type {
  DeleteResult,
  EngineStatus,
  InstanceEntry,
  NameEntry,
  PrepareJobEntry,
  PrepareJobEvent,
  PrepareJobRequest,
  PrepareJobStatus,
  PreparePlanTask,
  StateEntry,
  TaskEntry,
} from "./shared/schemas.ts";

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

// ---------------------------------------------------------------------------------------------------
// Connecting

/**
 * How to reach the engine; every function takes these along with its own options.
 *
 * @example An isolated sqlrs for one test run
 * ```ts
 * import type { ClientOptions } from "@sqlrs/sqlrs";
 * const dir = await Deno.makeTempDir();
 * const options: ClientOptions = { env: { XDG_STATE_HOME: dir }, idleTimeout: "30s" };
 * ```
 */
export interface ClientOptions {
  /**
   * An engine endpoint (`unix:///path.sock` or `http://127.0.0.1:PORT`, token from `SQLRS_TOKEN` or
   * `engine.json`), or `auto` to find or start the local engine.
   * @default `SQLRS_ENGINE_ADDR`, else `auto`
   */
  endpoint?: string | undefined;
  /**
   * A profile of a team engine in the CLI config (`sqlrs init remote NAME`), used instead of the local
   * engine. @default `SQLRS_PROFILE`, else none
   */
  profile?: string | undefined;
  /**
   * Environment variables that replace this process's for finding the engine and its files and for
   * an engine started here (`XDG_STATE_HOME`, `XDG_CONFIG_HOME`, `SQLRS_STATE_STORE`, ...): a private
   * sqlrs without changing `Deno.env`, which parallel test files share.
   * @default this process's environment
   */
  env?: Record<string, string> | undefined;
  /**
   * The directory relative `-f` paths resolve against and where the workspace config is looked up.
   * @default Deno.cwd()
   */
  cwd?: string | undefined;
  /**
   * Timeout of each API request in ms (not of a whole prepare or run), and how long to keep trying to
   * reach an engine again when it went away (stopped, crashed, idled out). @default 30000
   */
  timeoutMs?: number | undefined;
  /** How long an engine started here waits idle before exiting. @default the CLI config's, else "120s" */
  idleTimeout?: string | undefined;
  /** How long to wait for an engine started here to become healthy, in ms. @default 15000 */
  startupTimeoutMs?: number | undefined;
  /**
   * Upload the files a prepare reads to the engine, which then reads its copies (as a remote engine
   * must). @default `SQLRS_UPLOAD_SOURCES=1`, else false
   */
  uploadSources?: boolean | undefined;
}

function envLookup(overrides: Record<string, string> | undefined): EnvLookup {
  return (name) =>
    overrides !== undefined && Object.hasOwn(overrides, name) ? overrides[name] : Deno.env.get(name);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === "" ? undefined : value;
}

/** One connection to the engine; disposing of it closes the client. */
interface Session extends Disposable {
  client: EngineClient;
  cwd: string;
  /** The default `--image` of the CLI config. */
  image: string | undefined;
  /** The workspace's `defaults.deadline` and `defaults.statementTimeout`, as the CLI reads them. */
  deadline: string | undefined;
  statementTimeout: string | undefined;
}

async function open(options: ClientOptions): Promise<Session> {
  const env = envLookup(options.env);
  const cwd = options.cwd ?? Deno.cwd();
  const config = await loadCliConfig({ env, cwd });
  const remote = await selectedProfile(options.profile, env);
  const client = remote !== undefined ? remoteClient(remote, options.timeoutMs) : await connectEngine({
    engineCommand: moduleEngineCommand(),
    // Resolved here so that `options.env` decides, not this process's environment.
    endpoint: options.endpoint ?? nonEmpty(env("SQLRS_ENGINE_ADDR")) ?? nonEmpty(env("TAIDON_ENGINE_ADDR")) ??
      "auto",
    paths: sqlrsPaths(env),
    idleTimeout: options.idleTimeout ?? config.idleTimeout,
    engineEnv: { ...config.engineEnv, ...options.env },
    timeoutMs: options.timeoutMs,
    startupTimeoutMs: options.startupTimeoutMs,
    uploadSources: options.uploadSources ?? env("SQLRS_UPLOAD_SOURCES") === "1",
  });
  return {
    client,
    cwd,
    image: config.image,
    deadline: config.deadline,
    statementTimeout: config.statementTimeout,
    [Symbol.dispose]: () => client[Symbol.dispose](),
  };
}

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
  return (await open(options)).client;
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
  using session = await open(options);
  return await session.client.status();
}

// ---------------------------------------------------------------------------------------------------
// Prepare and plan

/**
 * What to build: psql args (each `-f FILE`, `-f -` and `-c SQL` is one cached step) or Liquibase
 * args, plus how to follow the job.
 *
 * @example
 * ```ts
 * import type { PlanOptions } from "@sqlrs/sqlrs";
 * const options: PlanOptions = { psql: ["-f", "schema.sql", "-f", "seed.sql"], image: "host:15" };
 * ```
 */
export interface PlanOptions extends ClientOptions {
  /** psql args; relative `-f` paths resolve against `cwd`. Give this or `liquibase`. */
  psql?: readonly string[] | undefined;
  /** Liquibase args: `update --changelog-file FILE [--search-path …]`. Give this or `psql`. */
  liquibase?: readonly string[] | undefined;
  /** What `-f -` reads. */
  stdin?: string | undefined;
  /** The PostgreSQL build: `host`, `host:15`, or a container image. @default the CLI config's */
  image?: string | undefined;
  /**
   * The job's wall-clock limit, e.g. `10m`: past it the job is cancelled and the call rejects with a
   * `cancelled` {@link SqlrsError} that says so. Unlike `timeoutMs`, which bounds each request to the engine.
   * @default the workspace config's `defaults.deadline`, else none
   */
  deadline?: string | undefined;
  /** Aborting cancels the job; the call then rejects with a `cancelled` {@link SqlrsError}. */
  signal?: AbortSignal | undefined;
  /** Called with each of the job's events as it happens (progress, logs). */
  onEvent?: ((event: PrepareJobEvent) => void) | undefined;
}

/**
 * {@link PlanOptions} plus what to do with the instance.
 *
 * @example
 * ```ts
 * import type { PrepareOptions } from "@sqlrs/sqlrs";
 * const options: PrepareOptions = { psql: ["-c", "create table t(id int)"], name: "dev", rebind: true };
 * ```
 */
export interface PrepareOptions extends PlanOptions {
  /** Bind the instance to this name (usable wherever an instance id is). */
  name?: string | undefined;
  /** Move `name` to this instance when another one has it; the engine deletes that one unless `keepOld`. */
  rebind?: boolean | undefined;
  /** With `rebind`: keep the instance the name leaves. */
  keepOld?: boolean | undefined;
  /** Let the engine delete the instance after this long, e.g. `30m`. */
  ttl?: string | undefined;
  /**
   * PostgreSQL's `statement_timeout` for every step, e.g. `30s`: a statement running longer fails the job.
   * @default the workspace config's `defaults.statementTimeout`, else none
   */
  statementTimeout?: string | undefined;
}

async function prepareRequest(session: Session, options: PrepareOptions, planOnly: boolean) {
  if ((options.psql === undefined) === (options.liquibase === undefined)) {
    throw new TypeError("Cannot prepare: give exactly one of psql and liquibase");
  }
  const shared = {
    cwd: session.cwd,
    stdin: () => Promise.resolve(options.stdin),
    image: options.image ?? session.image,
    name: options.name,
    rebind: options.rebind,
    keepOld: options.keepOld,
    ttl: options.ttl,
    deadline: options.deadline ?? session.deadline,
    statementTimeout: planOnly ? undefined : options.statementTimeout ?? session.statementTimeout,
    planOnly,
  };
  return options.psql !== undefined
    ? await psqlPrepareRequest(options.psql, shared)
    : lbPrepareRequest(options.liquibase ?? [], shared);
}

/**
 * Submits a job, follows it to its end (on the next engine when its engine goes away, as the CLI
 * does) and returns its final status; anything but success throws, as in the CLI.
 */
async function runJob(
  client: EngineClient,
  request: PrepareJobRequest,
  options: PlanOptions,
): Promise<{ status: PrepareJobStatus; upload: UploadStats | undefined }> {
  options.signal?.throwIfAborted();
  const { job_id: jobId, upload } = await client.submitPrepare(request);
  let cancelling: Promise<unknown> | undefined;
  const cancel = () => cancelling = client.cancelJob(jobId).catch(() => {});
  options.signal?.addEventListener("abort", cancel, { once: true });
  let status: PrepareJobStatus | undefined;
  try {
    status = await followJob(client, jobId, { onEvent: options.onEvent, stallTimeoutMs: options.timeoutMs });
  } finally {
    options.signal?.removeEventListener("abort", cancel);
    await cancelling;
  }
  if (status?.status === "succeeded" && options.signal?.aborted) {
    // Cancelled too late: the caller will not get the instance, so it must not outlive the call.
    if (status.result !== null) await client.delete("instances", status.result.instance_id, { force: true });
    throw new SqlrsError("cancelled", `Job ${jobId} was cancelled`, { cause: options.signal.reason });
  }
  if (status === undefined) throw new SqlrsError("internal_error", `Stopped following job ${jobId}`);
  if (status.status === "cancelled" && options.signal?.aborted) {
    throw new SqlrsError("cancelled", `Job ${jobId} was cancelled`, {
      details: { job_id: jobId },
      cause: options.signal.reason,
    });
  }
  return { status: requireSucceeded(status), upload };
}

/**
 * A running instance from {@link prepare}. Disposing of it (`await using`) deletes the instance; the
 * state it was cloned from stays cached.
 *
 * @example
 * ```ts
 * import { prepare } from "@sqlrs/sqlrs";
 * await using db = await prepare({ psql: ["-c", "create table t(id int)"] });
 * console.log(db.dsn, db.instanceId, db.stateId, db.jobId);
 * ```
 */
export interface PreparedInstance extends AsyncDisposable {
  /**
   * `postgres://sqlrs_<instance id>:<password>@127.0.0.1:<port>/postgres`: the instance's own role, which
   * no other instance accepts.
   */
  readonly dsn: string;
  /** The instance's 32-hex id (also usable by prefix in the CLI: `sqlrs run:psql --instance`). */
  readonly instanceId: string;
  /** The state the instance was cloned from (a 64-hex content hash). */
  readonly stateId: string;
  /** The prepare job that made it. */
  readonly jobId: string;
  /** The PostgreSQL build the state belongs to (e.g. `host:15`). */
  readonly imageId: string;
  /** The name bound to the instance, if any. */
  readonly name: string | null;
  /** With `uploadSources`: the files and bytes this prepare uploaded (0 when the engine had them all). */
  readonly uploaded: UploadStats | undefined;
  /** Runs psql or pgbench against this instance; see {@link run}. */
  run(options?: InstanceRunOptions): Promise<RunResult>;
  /** Deletes the instance now (open connections are terminated); later calls do nothing. */
  delete(): Promise<void>;
}

class Prepared implements PreparedInstance {
  readonly dsn: string;
  readonly instanceId: string;
  readonly stateId: string;
  readonly jobId: string;
  readonly imageId: string;
  readonly name: string | null;
  readonly uploaded: UploadStats | undefined;
  readonly #options: ClientOptions;
  #deleted: Promise<void> | undefined;

  constructor(status: PrepareJobStatus, upload: UploadStats | undefined, options: ClientOptions) {
    const result = status.result;
    if (result === null) {
      throw new SqlrsError("internal_error", `Job ${status.job_id} succeeded without a result`);
    }
    this.dsn = result.dsn;
    this.instanceId = result.instance_id;
    this.stateId = result.state_id;
    this.jobId = status.job_id;
    this.imageId = result.image_id;
    this.name = result.name;
    this.uploaded = upload;
    this.#options = options;
  }

  run(options: InstanceRunOptions = {}): Promise<RunResult> {
    return run({ ...this.#options, ...options, instance: this.instanceId });
  }

  delete(): Promise<void> {
    this.#deleted ??= (async () => {
      // A fresh connection: the engine that made the instance may have idled out since.
      using session = await open(this.#options);
      try {
        await session.client.delete("instances", this.instanceId, { force: true });
      } catch (error) {
        if (!(error instanceof ApiError && error.code === "not_found")) throw error;
      }
    })();
    return this.#deleted;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.delete();
  }
}

function clientOptionsOf(options: ClientOptions): ClientOptions {
  const { endpoint, profile, env, cwd, timeoutMs, idleTimeout, startupTimeoutMs } = options;
  return { endpoint, profile, env, cwd, timeoutMs, idleTimeout, startupTimeoutMs };
}

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
  using session = await open(options);
  const { status, upload } = await runJob(
    session.client,
    await prepareRequest(session, options, false),
    options,
  );
  return new Prepared(status, upload, { ...clientOptionsOf(options), cwd: session.cwd });
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
  using session = await open(options);
  const { status, upload } = await runJob(
    session.client,
    await prepareRequest(session, options, true),
    options,
  );
  const executes = status.tasks.filter((task) => task.type === "state_execute");
  return {
    uploaded: upload,
    jobId: status.job_id,
    imageId: status.image_id,
    prepareArgsNormalized: status.prepare_args_normalized,
    tasks: status.tasks,
    finalStateId: executes.at(-1)?.output_state_id,
    cached: executes.every((task) => task.cached),
  };
}

/**
 * What {@link plan} found.
 *
 * @example
 * ```ts
 * import type { Plan } from "@sqlrs/sqlrs";
 * function uncached(plan: Plan): number {
 *   return plan.tasks.filter((task) => task.type === "state_execute" && !task.cached).length;
 * }
 * ```
 */
export interface Plan {
  /** The plan-only job (listed by `ls("jobs")`). */
  jobId: string;
  /** The PostgreSQL build the steps run on. */
  imageId: string;
  /** The prepare args as the engine normalized them (what the cache key covers). */
  prepareArgsNormalized: string;
  /** Every task: plan, resolve_image, one state_execute per step, prepare_instance. */
  tasks: PreparePlanTask[];
  /** The state a prepare would end in (undefined when there are no steps). */
  finalStateId: string | undefined;
  /** Whether every step is cached, so that a prepare would only start an instance. */
  cached: boolean;
  /** With `uploadSources`: the files and bytes this plan uploaded. */
  uploaded: UploadStats | undefined;
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
  using session = await open(options);
  yield* followJobEvents(session.client, jobId, {
    from: options.from,
    signal: options.signal,
    stallTimeoutMs: options.timeoutMs,
  });
}

/**
 * Options of {@link watch}.
 *
 * @example
 * ```ts
 * import type { WatchOptions } from "@sqlrs/sqlrs";
 * const options: WatchOptions = { from: 0, signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface WatchOptions extends ClientOptions {
  /** The index of the first event wanted (earlier ones are replayed). @default 0 */
  from?: number | undefined;
  /** Stops watching (the iteration ends); the job keeps running. */
  signal?: AbortSignal | undefined;
}

// ---------------------------------------------------------------------------------------------------
// Run

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
  if (options.psql !== undefined && options.pgbench !== undefined) {
    throw new TypeError("Cannot run: give psql or pgbench, not both");
  }
  using session = await open(options);
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

// ---------------------------------------------------------------------------------------------------
// Inventory

/**
 * What {@link ls} lists, by kind.
 *
 * @example
 * ```ts
 * import type { ListKinds } from "@sqlrs/sqlrs";
 * const first: ListKinds["instances"] | undefined = undefined;
 * ```
 */
export interface ListKinds {
  /** Names bound to instances (`prepare({ name })`). */
  names: NameEntry;
  /** Running instances. */
  instances: InstanceEntry;
  /** Cached states. */
  states: StateEntry;
  /** Prepare jobs, finished ones included (trimmed per signature). */
  jobs: PrepareJobEntry;
  /** The tasks of jobs. */
  tasks: TaskEntry;
}

/**
 * Filters of {@link ls}.
 *
 * @example
 * ```ts
 * import type { LsOptions } from "@sqlrs/sqlrs";
 * const options: LsOptions = { idPrefix: "3f2a9c1b" };
 * ```
 */
export interface LsOptions extends ClientOptions {
  /** Instances or states whose id starts with this. */
  idPrefix?: string | undefined;
  /** Tasks of this job only. */
  job?: string | undefined;
}

const LISTERS: {
  [K in keyof ListKinds]: (client: EngineClient, options: LsOptions) => Promise<ListKinds[K][]>;
} = {
  names: (client) => client.listNames(),
  instances: (client, options) => client.listInstances({ idPrefix: options.idPrefix }),
  states: (client, options) => client.listStates({ idPrefix: options.idPrefix }),
  jobs: (client) => client.listJobs(),
  tasks: (client, options) => client.listTasks(options.job),
};

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
  const list = LISTERS[kind];
  if (list === undefined) {
    throw new TypeError(`Cannot list "${kind}": use one of ${Object.keys(LISTERS).join(", ")}`);
  }
  using session = await open(options);
  return await list(session.client, options);
}

/**
 * Options of {@link rm}.
 *
 * @example
 * ```ts
 * import type { RmOptions } from "@sqlrs/sqlrs";
 * const options: RmOptions = { recurse: true, dryRun: true };
 * ```
 */
export interface RmOptions extends ClientOptions {
  /** Delete a state with every state and instance built on it. */
  recurse?: boolean | undefined;
  /** Delete instances even with open connections (they are terminated). */
  force?: boolean | undefined;
  /** Report what would be deleted, delete nothing. */
  dryRun?: boolean | undefined;
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
  using session = await open(options);
  const target = await resolveDeleteTarget(session.client, ref);
  return await session.client.delete(target.kind, target.id, {
    force: options.force === true,
    dryRun: options.dryRun === true,
    recurse: options.recurse === true,
  });
}
