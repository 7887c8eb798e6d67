/**
 * What a prepare job is recorded with: its plan's tasks and their statuses, its result, and when its
 * instance expires.
 *
 * @module
 */

import type { ResolvedImage } from "../runtime/types.ts";
import type { InstanceRow, JobPlan } from "../registry/registry.ts";
import type { Instances } from "../instances/instances.ts";
import type { ConfigStore } from "../config/config_store.ts";
import type {
  PrepareJobRequest,
  PrepareJobResult,
  PreparePlanTask,
  TaskStatusValue,
} from "../../shared/schemas.ts";
import { parseDuration } from "../../shared/duration.ts";
import type { Plan } from "./planner.ts";

/** The final status of each task of a job that handed out a warm instance of its cached state. */
export function handedOutTaskStatus(task: PreparePlanTask): TaskStatusValue {
  return task.type === "state_execute" ? "skipped" : "succeeded";
}

/** The recorded plan of a planned job. */
export function plannedJob(plan: Plan): JobPlan {
  return { resolved_image_id: plan.image.resolvedId, signature: plan.signature, tasks: plan.tasks };
}

/** The recorded plan of a job that plans when it runs: only its planning and image tasks are known. */
export function unplannedJob(
  request: PrepareJobRequest,
  image: ResolvedImage,
): JobPlan {
  return {
    resolved_image_id: image.resolvedId,
    signature: null,
    tasks: [
      { task_id: "plan", type: "plan", planner_kind: request.prepare_kind },
      {
        task_id: "resolve-image",
        type: "resolve_image",
        image_id: image.imageId,
        resolved_image_id: image.resolvedId,
      },
    ],
  };
}

/** When an instance made for `request` expires: its TTL, else the configured default. */
export function instanceExpiry(
  request: PrepareJobRequest,
  config: Pick<ConfigStore, "effective">,
): string | null {
  const ttl = request.ttl ?? config.effective.instances.ttl;
  return ttl === null ? null : new Date(Date.now() + parseDuration(ttl)).toISOString();
}

/** What a succeeded job hands out: its instance, and what it was prepared from. */
export function jobResult(
  request: PrepareJobRequest,
  plan: Plan,
  instance: InstanceRow,
  instances: Pick<Instances, "dsn">,
): PrepareJobResult {
  return {
    dsn: instances.dsn(instance),
    instance_id: instance.instance_id,
    state_id: plan.finalStateId,
    image_id: plan.image.imageId,
    prepare_kind: request.prepare_kind,
    prepare_args_normalized: plan.argsNormalized,
    name: request.name ?? null,
  };
}
