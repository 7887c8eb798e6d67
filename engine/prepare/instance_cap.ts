/**
 * The cap on instances (engine config `instances.max`): a prepare that would make one more than the
 * cap is refused when it is submitted, before anything is planned or built.
 *
 * @module
 */

import type { Registry } from "../registry/registry.ts";
import type { PrepareJobRequest } from "../../shared/schemas.ts";
import { SqlrsError } from "../../shared/errors.ts";

/**
 * Refuses `request` when the instances that exist plus those that jobs still prepare reach `max`.
 * A `--rebind` that deletes the instance it replaces adds none. Run it in the transaction that
 * records the job, so that of concurrent submits no more than the cap get through.
 * @throws {SqlrsError} `instance_limit`
 */
export function checkInstanceCap(registry: Registry, max: number | null, request: PrepareJobRequest): void {
  if (max === null || request.plan_only === true) return;
  if (request.rebind === true && request.keep_old !== true && request.name !== undefined) {
    const bound = registry.getName(request.name);
    if (bound !== undefined && registry.getInstance(bound.instance_id) !== undefined) return;
  }
  const instances = registry.counts().instances;
  // A job makes its instance at its very end: until then it holds a place of its own.
  const preparing = registry.jobsWithStatus("queued", "running")
    .filter((job) => !job.plan_only && registry.instancesOfJob(job.job_id).length === 0).length;
  if (instances + preparing < max) return;
  throw new SqlrsError(
    "instance_limit",
    `Cannot prepare another instance: ${instances} exist and ${preparing} are being prepared, and ` +
      `instances.max is ${max}; delete some ("sqlrs prune", "sqlrs rm <instance>") or raise the limit ` +
      `("sqlrs config set instances.max <n>")`,
    { details: { max, instances, preparing } },
  );
}
