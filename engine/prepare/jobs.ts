/**
 * Prepare jobs: submission (a bad request is a 400 before any job exists), execution in the
 * background, cancellation, and resumption after an engine restart. Their events go to the durable
 * log of `job_events.ts`.
 *
 * @module
 */

import type { JobInsert, JobOutcome, JobRow, Registry } from "../registry/registry.ts";
import type { RuntimeSelector } from "../runtime/select.ts";
import type { Instances } from "../instances/instances.ts";
import type { InstancePool } from "../pool/pool.ts";
import type { ResolvedImage } from "../runtime/types.ts";
import type {
  CacheExplain,
  PrepareJobAccepted,
  PrepareJobEntry,
  PrepareJobEvent,
  PrepareJobRequest,
  PrepareJobResult,
  PrepareJobStatus,
  TaskEntry,
} from "../../shared/schemas.ts";
import { isJobFinished } from "../../shared/schemas.ts";
import { prepareKindSpec } from "../../shared/prepare_kinds.ts";
import { messageOf, notFound } from "../../shared/errors.ts";
import { parseDuration } from "../../shared/duration.ts";
import type { ConfigStore } from "../config/config_store.ts";
import type { Activity } from "../lifecycle/activity.ts";
import type { Plan } from "./planner.ts";
import { type KindPlanDeps, prepareKindOf } from "./kinds.ts";
import { argsSummary } from "./summary.ts";
import { neededStates } from "./job_leases.ts";
import { explainPlan } from "../cache/explain.ts";
import type { Executor, JobReporter } from "./executor.ts";
import { JobEventLog } from "./job_events.ts";
import { deadlineTimer, jobError } from "./job_deadline.ts";
import { jobReporter, settleTasks } from "./job_reporter.ts";
import { jobEntry, jobStatus, taskEntry } from "./job_views.ts";
import { trimIdentical } from "./job_retention.ts";
import { bindJobName, checkName, checkNameFree } from "./job_names.ts";
import { checkInstanceCap } from "./instance_cap.ts";
import type { StateLeases } from "../states/leases.ts";
import { JobStopped, stoppedByShutdown } from "./job_stop.ts";
import { randomHex } from "../../shared/random.ts";
import { SharedRuns } from "../single_flight.ts";
import { instanceExpiry, jobResult, plannedJob, unplannedJob } from "./job_records.ts";
import { type HandedOut, WarmHandOut } from "./warm_handout.ts";

/** A request checked and planned: the job it makes, not recorded yet. */
interface Checked {
  job: JobInsert;
  plan: Plan | null;
  image: ResolvedImage;
}

/** A submission's answer; `handedOut`, the finished job of a hand-out from the pool. */
interface Submitted {
  accepted: PrepareJobAccepted;
  cacheHit: boolean;
  handedOut?: PrepareJobStatus;
}

/** Dependencies of the job service. */
export interface JobServiceDeps {
  registry: Registry;
  runtimes: RuntimeSelector;
  executor: Executor;
  /** Where a running job leases the states it still needs. */
  leases: StateLeases;
  instances: Instances;
  /** Warm instances of hot states, taken before making a new one. */
  pool: InstancePool;
  config: ConfigStore;
  activity: Activity;
  log(line: string): void;
  /** The store's root: a kind may cache plans under it (Liquibase does). */
  storeRoot: string;
}

/** Runs and reports prepare jobs. */
export class JobService {
  readonly #deps: JobServiceDeps;
  readonly #controllers = new Map<string, AbortController>();
  /** The running jobs of this engine, each until it ends. */
  readonly #running = new Map<string, Promise<void>>();
  /** Plans of running jobs: their states are leased (see {@link JobService.#lease}). */
  readonly #plans = new Map<string, Plan>();
  /** Per running job, the step tasks it has finished (built or found cached). */
  readonly #finishedSteps = new Map<string, Set<string>>();
  readonly #planning = new SharedRuns<Plan>();
  /** Hand-outs from the pool, each a job recorded finished. */
  readonly #warm: WarmHandOut;

  readonly #events: JobEventLog;

  constructor(deps: JobServiceDeps) {
    this.#deps = deps;
    this.#events = new JobEventLog(deps.registry);
    this.#warm = new WarmHandOut({ ...deps, events: this.#events });
  }

  /** Validates and plans a request, records the job, and starts it. */
  async submit(request: PrepareJobRequest): Promise<PrepareJobAccepted> {
    return (await this.#submit(request, false)).accepted;
  }

  /**
   * The fast hand-out: submits like {@link submit}, and when the request's final state is cached (the
   * job only makes or takes an instance) waits for the job and answers with its status, collected as
   * `GET /v1/prepare-jobs/{id}` would: a cache hit is one request, with no event stream to follow.
   * Anything else answers as {@link submit} does.
   */
  async submitAndWaitIfCached(request: PrepareJobRequest): Promise<PrepareJobAccepted | PrepareJobStatus> {
    return await this.#waitIfCached(await this.#submit(request, true));
  }

  /**
   * Several prepares at once, each answered as {@link JobService.submitAndWaitIfCached} answers it
   * alone (its own outcome, in order). Those that take a warm instance are recorded in one transaction:
   * one commit for them all, which costs as much as the rest of a hand-out's writes.
   */
  async submitManyAndWaitIfCached(
    requests: readonly PrepareJobRequest[],
  ): Promise<PromiseSettledResult<PrepareJobAccepted | PrepareJobStatus>[]> {
    const checked = await Promise.allSettled(requests.map((request) => this.#check(request)));
    const handedOut: (HandedOut | { error: unknown } | undefined)[] = [];
    try {
      this.#deps.registry.transaction(() => {
        for (const item of checked) {
          if (item.status === "rejected" || item.value.plan === null) handedOut.push(undefined);
          else {
            try {
              handedOut.push(this.#warm.take(item.value.job, item.value.plan, true));
            } catch (error) {
              handedOut.push({ error });
            }
          }
        }
      });
    } catch (error) {
      // Nothing of the batch was recorded: its warm instances are nobody's.
      for (const outcome of handedOut) {
        if (outcome !== undefined && "warm" in outcome) this.#warm.discard(outcome.warm);
      }
      throw error;
    }
    return await Promise.allSettled(checked.map(async (item, index) => {
      if (item.status === "rejected") throw item.reason;
      const outcome = handedOut[index];
      if (outcome !== undefined && "error" in outcome) throw outcome.error;
      if (outcome !== undefined) return outcome.status;
      return await this.#waitIfCached(this.#record(item.value));
    }));
  }

  /** A submitted job's answer: its status once it finished, when it is a cache hit; else it accepted. */
  async #waitIfCached(
    { accepted, cacheHit, handedOut }: Submitted,
  ): Promise<PrepareJobAccepted | PrepareJobStatus> {
    if (handedOut !== undefined) return handedOut;
    if (!cacheHit) return accepted;
    await this.#running.get(accepted.job_id);
    return this.status(accepted.job_id);
  }

  /**
   * `collect`: the caller answers with the status of a job that finishes at once (`handedOut`),
   * collected as {@link JobService.status} collects it.
   */
  async #submit(request: PrepareJobRequest, collect: boolean): Promise<Submitted> {
    const checked = await this.#check(request);
    const handedOut = checked.plan === null ? undefined : this.#warm.take(checked.job, checked.plan, collect);
    if (handedOut !== undefined) {
      return { accepted: this.#accepted(checked.job.job_id), cacheHit: true, handedOut: handedOut.status };
    }
    return this.#record(checked);
  }

  /** Checks and plans a request: the job it makes, not recorded yet. */
  async #check(request: PrepareJobRequest): Promise<Checked> {
    checkName(request, this.#deps.registry);
    checkInstanceCap(this.#deps.registry, this.#deps.config.effective.instances.max, request);
    if (request.ttl !== undefined) parseDuration(request.ttl);
    if (request.deadline !== undefined) parseDuration(request.deadline);
    // A kind whose planning runs its tool (Liquibase: seconds) plans here only from what is cached, as
    // psql always does; else the request is checked now and the job plans.
    const kind = prepareKindOf(request);
    const plan = kind.slowPlanning === undefined
      ? await this.#plan(request)
      : await kind.slowPlanning.planCached(request, await this.#planDeps(request));
    if (plan === null) kind.slowPlanning?.check(request);
    const image = plan?.image ??
      await (await this.#deps.runtimes.forImage(request.image_id)).resolveImage(request.image_id);
    const job: JobInsert = {
      job_id: randomHex(16),
      prepare_kind: request.prepare_kind,
      image_id: image.imageId,
      plan_only: request.plan_only === true,
      request,
      prepare_args_normalized: plan?.argsNormalized ??
        argsSummary(prepareKindSpec(request.prepare_kind).args(request)),
    };
    return { job, plan, image };
  }

  /** Records a checked job and starts it. */
  #record({ job, plan, image }: Checked): Submitted {
    const jobId = job.job_id;
    this.#insertJob(job);
    this.#deps.registry.setJobPlan(
      jobId,
      plan === null ? unplannedJob(job.request, image) : plannedJob(plan),
    );
    this.#events.append(jobId, { type: "status", status: "queued" });
    const cacheHit = plan !== null && job.request.plan_only !== true &&
      this.#deps.executor.stateCached(plan.finalStateId);
    this.#start(jobId, plan ?? undefined);
    return { accepted: this.#accepted(jobId), cacheHit };
  }

  /**
   * Records a new job and, for `--name` without `--rebind`, reserves the name in the same transaction:
   * of concurrent submits for one free name exactly one gets it, the others a `conflict`.
   */
  #insertJob(job: JobInsert): void {
    const registry = this.#deps.registry;
    const { name, rebind, plan_only: planOnly } = job.request;
    registry.transaction(() => {
      checkInstanceCap(registry, this.#deps.config.effective.instances.max, job.request);
      if (name !== undefined && rebind !== true && planOnly !== true) {
        checkNameFree(name, this.#deps.registry);
        registry.reserveName(name, job.job_id);
      }
      registry.insertJob(job);
    });
  }

  #accepted(jobId: string): PrepareJobAccepted {
    return {
      job_id: jobId,
      status_url: `/v1/prepare-jobs/${jobId}`,
      events_url: `/v1/prepare-jobs/${jobId}/events`,
      status: "queued",
    };
  }

  /** Restarts the jobs an earlier engine left queued or running. */
  resumeInterrupted(): void {
    for (const job of this.#deps.registry.jobsWithStatus("queued", "running")) {
      // The API serves while the engine recovers: a job submitted meanwhile already runs here.
      if (this.#controllers.has(job.job_id)) continue;
      this.#events.append(job.job_id, { type: "log", message: "engine restarted: resuming the job" });
      this.#start(job.job_id, undefined);
    }
  }

  /** Leases what a running job still needs (see {@link neededStates}). */
  #lease(jobId: string): void {
    const plan = this.#plans.get(jobId);
    if (plan === undefined) return;
    const registry = this.#deps.registry;
    const finished = this.#finishedSteps.get(jobId) ?? new Set<string>();
    this.#deps.leases.hold(jobId, neededStates(plan, finished, (id) => registry.getState(id) !== undefined));
  }

  /** The cache decision per step of a request, without creating a job or an instance. */
  async explain(request: PrepareJobRequest): Promise<CacheExplain> {
    return explainPlan(await this.#plan(request), this.#deps.registry);
  }

  /** Asks a queued or running job to stop; false when it already finished. */
  cancel(jobId: string): boolean {
    const job = this.#job(jobId);
    if (isJobFinished(job.status)) return false;
    this.#controllers.get(jobId)?.abort(new JobStopped("cancel"));
    return true;
  }

  /** Interrupts every running job so that the next engine resumes it, and waits for them to stop. */
  async shutdown(): Promise<void> {
    for (const controller of this.#controllers.values()) controller.abort(new JobStopped("shutdown"));
    await Promise.allSettled([...this.#running.values()]);
  }

  /**
   * A job's status. The first read of a finished job's status collects it: its instance counts as
   * delivered (see {@link reclaimUndelivered}) and retention may delete the job from then on.
   */
  status(jobId: string): PrepareJobStatus {
    const job = this.#job(jobId);
    const status = jobStatus(job, this.#deps.registry.listTasks(jobId));
    if (isJobFinished(job.status) && job.collected_at === null) {
      this.#deps.registry.markJobCollected(jobId);
      trimIdentical(job.signature, this.#deps);
    }
    return status;
  }

  list(): PrepareJobEntry[] {
    return this.#deps.registry.listJobs().map(jobEntry);
  }

  tasks(jobId: string | undefined): TaskEntry[] {
    return this.#deps.registry.listTasks(jobId).map(taskEntry);
  }

  eventCount(jobId: string): number {
    this.#job(jobId);
    return this.#events.count(jobId);
  }

  isTerminal(jobId: string): boolean {
    return isJobFinished(this.#job(jobId).status);
  }

  /** Whether the job is still running in this engine. */
  isActive(jobId: string): boolean {
    return this.#controllers.has(jobId);
  }

  /** The job's events from `from` (inclusive) to `to` (exclusive), following the live log until the job ends. */
  async *events(
    jobId: string,
    from: number,
    to: number | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<PrepareJobEvent> {
    this.#job(jobId);
    yield* this.#events.follow(jobId, from, to, signal);
  }

  #job(jobId: string): JobRow {
    const job = this.#deps.registry.getJob(jobId);
    if (job === undefined) throw notFound(`Job ${jobId} not found`);
    return job;
  }

  /**
   * Plans `request` with its kind. Identical requests planned at once (parallel test workers asking
   * for the same state) share one planning: it reads the same files and finds the same states.
   */
  #plan(request: PrepareJobRequest): Promise<Plan> {
    return this.#planning.run(
      JSON.stringify(request),
      async () => await prepareKindOf(request).plan(request, await this.#planDeps(request)),
    );
  }

  /** What a kind plans with, on the runtime of the request's image. */
  async #planDeps(request: PrepareJobRequest): Promise<KindPlanDeps> {
    const runtime = await this.#deps.runtimes.forImage(request.image_id);
    return {
      resolveImage: (imageId: string | undefined) => runtime.resolveImage(imageId),
      stateExists: (stateId: string) => this.#deps.executor.stateCached(stateId),
      config: this.#deps.config.effective,
      storeRoot: this.#deps.storeRoot,
      withBaseServer: async (imageId, fn) =>
        await this.#deps.executor.withBaseServer(runtime, await runtime.resolveImage(imageId), fn),
    };
  }

  #start(jobId: string, plan: Plan | undefined): void {
    const controller = new AbortController();
    this.#controllers.set(jobId, controller);
    const deadline = deadlineTimer(this.#job(jobId), controller);
    const done = this.#deps.activity.beginJob();
    const running = this.#run(jobId, plan, controller.signal).catch((error) => {
      // Even the failure could not be recorded (e.g. the store's disk is full): the job stays
      // unfinished in the registry, and the next engine resumes it. The engine itself goes on.
      this.#deps.log(`job ${jobId}: cannot record its end: ${messageOf(error)}`);
    }).finally(() => {
      clearTimeout(deadline);
      this.#controllers.delete(jobId);
      this.#plans.delete(jobId);
      this.#finishedSteps.delete(jobId);
      this.#deps.leases.release(jobId);
      this.#running.delete(jobId);
      done();
    });
    this.#running.set(jobId, running);
  }

  #reporter(jobId: string): JobReporter {
    return jobReporter(jobId, this.#deps.registry, this.#events, (taskId) => {
      const finished = this.#finishedSteps.get(jobId) ?? new Set<string>();
      this.#finishedSteps.set(jobId, finished.add(taskId));
      this.#lease(jobId);
    });
  }

  async #run(jobId: string, planned: Plan | undefined, signal: AbortSignal): Promise<void> {
    const registry = this.#deps.registry;
    const job = this.#job(jobId);
    const reporter = this.#reporter(jobId);
    try {
      await this.#discardEarlierInstances(jobId);
      registry.markJobRunning(jobId);
      this.#events.append(jobId, { type: "status", status: "running" });
      const plan = planned ?? await this.#plan(job.request);
      this.#plans.set(jobId, plan);
      this.#lease(jobId);
      if (planned === undefined) registry.setJobPlan(jobId, plannedJob(plan));
      reporter.task("plan", "succeeded");
      reporter.task("resolve-image", "succeeded", plan.image.resolvedId);
      if (job.plan_only) {
        for (const step of plan.steps) {
          const why = step.includedIn !== undefined ? "not kept" : step.cached ? "cached" : "plan only";
          reporter.task(step.taskId, "skipped", why);
        }
        this.#finish(jobId, { status: "succeeded", result: null });
        return;
      }
      const runtime = this.#deps.runtimes.byName(plan.image.runtime);
      const built = await this.#deps.executor.buildStates(runtime, plan, reporter, signal);
      reporter.task("prepare-instance", "running");
      let result: PrepareJobResult;
      try {
        result = await this.#prepareInstance(
          jobId,
          job.request,
          plan,
          { stateDir: built.stateDir, spareClone: built.spareClone },
          signal,
        );
      } finally {
        await built.removeWorkspace();
      }
      reporter.task("prepare-instance", "succeeded");
      this.#events.append(jobId, { type: "result", result });
      this.#finish(jobId, { status: "succeeded", result });
    } catch (error) {
      if (stoppedByShutdown(signal)) {
        registry.requeueJob(jobId);
        this.#events.append(jobId, {
          type: "log",
          message: "engine stopping: the job will resume when the engine starts again",
        });
        return;
      }
      const body = jobError(error, signal);
      if (body.code === "internal_error") {
        this.#deps.log(`job ${jobId} failed: ${error instanceof Error ? error.stack : error}`);
      }
      this.#finish(jobId, { status: body.code === "cancelled" ? "cancelled" : "failed", error: body });
    }
  }

  async #prepareInstance(
    jobId: string,
    request: PrepareJobRequest,
    plan: Plan,
    { stateDir, spareClone }: { stateDir: string; spareClone: string | undefined },
    signal: AbortSignal,
  ): Promise<PrepareJobResult> {
    const expiresAt = instanceExpiry(request, this.#deps.config);
    const warm = this.#deps.pool.take({
      stateId: plan.finalStateId,
      stateDir,
      image: plan.image,
      size: request.pool_size,
    });
    const instance = warm !== undefined
      ? this.#deps.instances.record(warm, { jobId, expiresAt })
      : await this.#deps.instances.create({
        stateId: plan.finalStateId,
        stateDir,
        ...(spareClone === undefined ? {} : { spareClone }),
        image: plan.image,
        jobId,
        expiresAt,
        signal,
      });
    await bindJobName(request, instance, this.#deps);
    return jobResult(request, plan, instance, this.#deps.instances);
  }

  /**
   * An engine killed while this job started its instance may have recorded one that no client will
   * ever be given (the resumed job makes a new one): destroy it before the job runs again.
   */
  async #discardEarlierInstances(jobId: string): Promise<void> {
    for (const instance of this.#deps.registry.instancesOfJob(jobId)) {
      await this.#deps.instances.destroy(instance);
      this.#deps.log(`job ${jobId}: deleted instance ${instance.instance_id} of its interrupted run`);
    }
  }

  #finish(jobId: string, outcome: JobOutcome): void {
    if (outcome.status !== "succeeded") {
      settleTasks(this.#reporter(jobId), this.#deps.registry, outcome.status);
    }
    const registry = this.#deps.registry;
    registry.transaction(() => {
      registry.finishJob(jobId, outcome);
      // A succeeded job has bound its name by now; a failed or cancelled one gives it back.
      registry.releaseNames(jobId);
    });
    this.#events.append(jobId, { type: "status", status: outcome.status });
    if (outcome.status !== "succeeded") this.#events.append(jobId, { type: "error", error: outcome.error });
    trimIdentical(registry.getJob(jobId)?.signature ?? null, this.#deps);
  }

  /**
   * Deletes the instances no client will be given: that of a succeeded job whose status no client read
   * within `instances.collectGrace` of the job's end (its client died, or the job resumed after a crash
   * and nobody came back for it), and any left to a failed job (a crash interrupted an earlier reclaim).
   * Such a succeeded job is marked failed, so that a late reader is told the truth.
   */
  async reclaimUndelivered(): Promise<void> {
    const registry = this.#deps.registry;
    const grace = this.#deps.config.effective.instances.collectGrace;
    const before = new Date(Date.now() - parseDuration(grace)).toISOString();
    for (const instance of registry.undeliveredInstances(before)) {
      const jobId = instance.job_id as string;
      const job = registry.getJob(jobId);
      // Collected while an earlier instance was being destroyed: delivered after all.
      if (job === undefined || (job.status === "succeeded" && job.collected_at !== null)) continue;
      if (job.status === "succeeded") {
        const message = `Instance ${instance.instance_id} of job ${jobId} was deleted: ` +
          `no client read the job's result within ${grace} (instances.collectGrace)`;
        // Failed before the instance goes, so that no client is given its DSN from now on.
        this.#finish(jobId, { status: "failed", error: { code: "not_found", message } });
      }
      this.#deps.log(
        `delivery: deleting instance ${instance.instance_id} of job ${jobId}: nobody collected it`,
      );
      await this.#deps.instances.destroy(instance);
    }
  }
}
