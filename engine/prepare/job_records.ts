/**
 * What a prepare job is recorded with: its row, and its plan's tasks with their statuses.
 *
 * @module
 */

import type { Registry } from "../registry/registry.ts";
import type { ResolvedImage } from "../runtime/types.ts";
import type { PrepareJobRequest, PreparePlanTask, TaskStatusValue } from "../../shared/schemas.ts";
import type { Plan } from "./planner.ts";

/** The final status of each task of a job that handed out a warm instance of its cached state. */
export function handedOutTaskStatus(task: PreparePlanTask): TaskStatusValue {
  return task.type === "state_execute" ? "skipped" : "succeeded";
}

/** What a job is recorded with. */
export type JobRecord = Parameters<Registry["insertJob"]>[0];

/** The recorded plan of a planned job. */
export function plannedJob(plan: Plan): Parameters<Registry["setJobPlan"]>[1] {
  return { resolved_image_id: plan.image.resolvedId, signature: plan.signature, tasks: plan.tasks };
}

/** The recorded plan of a job that plans when it runs: only its planning and image tasks are known. */
export function unplannedJob(
  request: PrepareJobRequest,
  image: ResolvedImage,
): Parameters<Registry["setJobPlan"]>[1] {
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
