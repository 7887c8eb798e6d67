/**
 * What a prepare job's plan is recorded as: its tasks, and their statuses.
 *
 * @module
 */

import type { JobPlan } from "../registry/registry.ts";
import type { ResolvedImage } from "../runtime/types.ts";
import type { PrepareJobRequest, PreparePlanTask, TaskStatusValue } from "../../shared/schemas.ts";
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
