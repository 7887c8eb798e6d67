/**
 * How the registry's job and task rows read in the API: a job's status, the job list, the task list.
 *
 * @module
 */

import type { JobRow, TaskRow } from "../registry/registry.ts";
import type { PrepareJobEntry, PrepareJobStatus, TaskEntry } from "../../shared/schemas.ts";

/** A job's status with its tasks (`GET /v1/prepare-jobs/:id`). */
export function jobStatus(job: JobRow, tasks: readonly TaskRow[]): PrepareJobStatus {
  return {
    job_id: job.job_id,
    status: job.status,
    prepare_kind: job.prepare_kind,
    image_id: job.image_id,
    plan_only: job.plan_only,
    prepare_args_normalized: job.prepare_args_normalized,
    created_at: job.created_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
    tasks: tasks.map((row) => row.task),
    result: job.result,
    error: job.error,
  };
}

/** A job as `GET /v1/prepare-jobs` lists it. */
export function jobEntry(job: JobRow): PrepareJobEntry {
  return {
    job_id: job.job_id,
    status: job.status,
    prepare_kind: job.prepare_kind,
    image_id: job.image_id,
    resolved_image_id: job.resolved_image_id,
    prepare_args_normalized: job.prepare_args_normalized,
    signature: job.signature,
    plan_only: job.plan_only,
    created_at: job.created_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
  };
}

/** A task as `GET /v1/tasks` lists it. */
export function taskEntry({ job_id, status, task }: TaskRow): TaskEntry {
  return {
    task_id: task.task_id,
    job_id,
    type: task.type,
    status,
    input: "input" in task ? task.input : null,
    output_state_id: task.type === "state_execute" ? task.output_state_id : null,
    cached: task.type === "state_execute" ? task.cached : null,
    args_summary: task.type === "state_execute" ? task.args_summary : null,
    changeset_id: task.type === "state_execute" ? task.changeset_id ?? null : null,
    changeset_author: task.type === "state_execute" ? task.changeset_author ?? null : null,
    changeset_path: task.type === "state_execute" ? task.changeset_path ?? null : null,
  };
}
