/**
 * A hand-out from the pool: a cache hit that finds a warm instance ready is recorded, instance and
 * job, in one transaction during its request; the job is born finished. Named requests are not handed
 * out here: binding a name may delete the instance it leaves, which a job does.
 *
 * @module
 */

import type { JobInsert, JobRow, Registry } from "../registry/registry.ts";
import type { Instances, StartedInstance } from "../instances/instances.ts";
import type { InstancePool } from "../pool/pool.ts";
import type { ConfigStore } from "../config/config_store.ts";
import type { PrepareJobStatus } from "../../shared/schemas.ts";
import { messageOf } from "../../shared/errors.ts";
import type { Executor } from "./executor.ts";
import type { JobEventLog } from "./job_events.ts";
import type { Plan } from "./planner.ts";
import { checkInstanceCap } from "./instance_cap.ts";
import { handedOutTaskStatus, instanceExpiry, jobResult, plannedJob } from "./job_records.ts";
import { jobStatus } from "./job_views.ts";
import { trimIdentical } from "./job_retention.ts";

/** A hand-out from the pool: the finished job's status, and the warm instance it recorded. */
export interface HandedOut {
  status: PrepareJobStatus;
  warm: StartedInstance;
}

/** What a hand-out records with. */
export interface WarmHandOutDeps {
  registry: Registry;
  executor: Executor;
  pool: InstancePool;
  instances: Instances;
  config: ConfigStore;
  events: JobEventLog;
  log(line: string): void;
}

/** Hands out warm instances of cached states, each as a job recorded finished. */
export class WarmHandOut {
  readonly #deps: WarmHandOutDeps;
  /** Signatures whose retention runs after the requests at hand (see {@link WarmHandOut.#trimSoon}). */
  readonly #toTrim = new Set<string>();

  constructor(deps: WarmHandOutDeps) {
    this.#deps = deps;
  }

  /**
   * A cache hit with a warm instance ready: the whole job, from its record to its result, in one
   * transaction and with no task in the background, so that a hand-out from the pool costs the engine
   * little more than the request itself. Answers the finished job's status (undefined when nothing
   * was warm). A named request is a job like any other: binding the name may delete the instance it leaves.
   */
  take(job: JobInsert, plan: Plan, collect: boolean): HandedOut | undefined {
    const { request, job_id: jobId } = job;
    if (request.plan_only === true || request.name !== undefined) return undefined;
    const stateDir = this.#deps.executor.keptFinalState(plan);
    if (stateDir === undefined) return undefined;
    const warm = this.#deps.pool.takeReady({
      stateId: plan.finalStateId,
      stateDir,
      image: plan.image,
      size: request.pool_size,
    });
    if (warm === undefined) return undefined;
    const registry = this.#deps.registry;
    try {
      return registry.transaction(() => {
        checkInstanceCap(registry, this.#deps.config.effective.instances.max, request);
        const owner = { jobId, expiresAt: instanceExpiry(request, this.#deps.config) };
        const result = jobResult(
          request,
          plan,
          this.#deps.instances.record(warm, owner),
          this.#deps.instances,
        );
        // Born finished: its row, its tasks in their final statuses, its result and end, in the
        // transaction that records the instance (a commit costs as much as the rest of its writes).
        registry.insertFinishedJob(
          job,
          plannedJob(plan),
          { result, collected: collect },
          handedOutTaskStatus,
        );
        this.#deps.events.append(jobId, { type: "result", result });
        this.#deps.events.append(jobId, { type: "status", status: "succeeded" });
        this.#trimSoon(plan.signature);
        return { status: jobStatus(registry.getJob(jobId) as JobRow, registry.listTasks(jobId)), warm };
      });
    } catch (error) {
      // Nothing of the job was recorded: the warm instance is nobody's.
      this.discard(warm);
      throw error;
    }
  }

  /** Removes a warm instance taken for a job that was not recorded. */
  discard(warm: StartedInstance): void {
    this.#deps.instances.discard(warm).catch((cause) =>
      this.#deps.log(`pool: cannot remove warm instance ${warm.instanceId}: ${messageOf(cause)}`)
    );
  }

  /**
   * Retention of a signature's jobs once the requests at hand are answered: hand-outs from the pool
   * come in bursts (a batch, parallel workers), and one retention pass after the burst costs less than
   * one in each. A job collected meanwhile has been answered already.
   */
  #trimSoon(signature: string): void {
    if (this.#toTrim.size === 0) {
      setTimeout(() => {
        const signatures = [...this.#toTrim];
        this.#toTrim.clear();
        try {
          for (const signature of signatures) trimIdentical(signature, this.#deps);
        } catch (error) {
          // The engine closed its registry meanwhile: the next engine's first hand-out trims.
          this.#deps.log(`retention: ${messageOf(error)}`);
        }
      }, 0);
    }
    this.#toTrim.add(signature);
  }
}
