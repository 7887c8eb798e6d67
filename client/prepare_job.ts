/**
 * Prepare jobs for the library (`mod.ts`): the request its options describe, and a job followed to its
 * end as the CLI follows it.
 *
 * @module
 */

import type { EngineClient } from "./engine_client.ts";
import { followJob, requireSucceeded } from "./follow_job.ts";
import { prepareRequestFor } from "./requests.ts";
import { PREPARE_KIND_SPECS } from "../shared/prepare_kinds.ts";
import type { ClientOptions, Session } from "./session.ts";
import { SqlrsError } from "../shared/errors.ts";
import type { UploadStats } from "./sources/upload.ts";
import type {
  PrepareJobEvent,
  PrepareJobRequest,
  PrepareJobStatus,
  PreparePlanTask,
} from "../shared/schemas.ts";

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

/** The request `options` describe, defaulted from the session's config as in the CLI. */
export async function jobRequest(
  session: Session,
  options: PrepareOptions,
  planOnly: boolean,
): Promise<PrepareJobRequest> {
  const given = PREPARE_KIND_SPECS.filter((spec) => kindArgs(options, spec) !== undefined);
  const [spec] = given;
  if (spec === undefined || given.length > 1) {
    const names = PREPARE_KIND_SPECS.map((kind) => kind.libraryOption);
    throw new TypeError(
      `Cannot prepare: give exactly one of ${names.slice(0, -1).join(", ")} and ${names.at(-1)}`,
    );
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
  return await prepareRequestFor(spec.name, kindArgs(options, spec) ?? [], shared);
}

/**
 * The tool args `options` give for `spec`'s kind. Indexing by the kind's `libraryOption` is the
 * compile-time check that {@link PlanOptions} has an option for every kind of the registry.
 */
function kindArgs(
  options: PlanOptions,
  spec: (typeof PREPARE_KIND_SPECS)[number],
): readonly string[] | undefined {
  return options[spec.libraryOption];
}

/** A finished job's status and what its submission uploaded (with `uploadSources`). */
export interface FinishedJob {
  status: PrepareJobStatus;
  upload: UploadStats | undefined;
}

/**
 * Submits a job, follows it to its end (on the next engine when its engine goes away, as the CLI
 * does) and returns its final status; anything but success throws, as in the CLI.
 */
export async function runJob(
  client: EngineClient,
  request: PrepareJobRequest,
  options: PlanOptions,
): Promise<FinishedJob> {
  options.signal?.throwIfAborted();
  // A cache hit finishes within this one request, unless the caller wants the job's events.
  const answer = options.onEvent === undefined
    ? await client.submitPrepareWaitCached(request)
    : await client.submitPrepare(request).then(({ upload, ...accepted }) => ({ accepted, upload }));
  const upload = answer.upload;
  const jobId = "status" in answer ? answer.status.job_id : answer.accepted.job_id;
  let status: PrepareJobStatus | undefined = "status" in answer ? answer.status : undefined;
  if (status === undefined) {
    let cancelling: Promise<unknown> | undefined;
    const cancel = () => cancelling = client.cancelJob(jobId).catch(() => {});
    options.signal?.addEventListener("abort", cancel, { once: true });
    try {
      status = await followJob(client, jobId, {
        onEvent: options.onEvent,
        stallTimeoutMs: options.timeoutMs,
      });
    } finally {
      options.signal?.removeEventListener("abort", cancel);
      await cancelling;
    }
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
 * What `plan()` found.
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

/** What a plan-only job found. */
export function planOf({ status, upload }: FinishedJob): Plan {
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
 * Options of `watch()`.
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
