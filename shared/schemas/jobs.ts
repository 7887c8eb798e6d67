/**
 * Prepare jobs: plans, statuses, results and the NDJSON event stream (the requests are each prepare
 * kind's, `shared/prepare_kinds.ts`).
 *
 * @module
 */

import { z } from "../deps.ts";
import { typed } from "./_typed.ts";
import { StateId, Timestamp } from "./common.ts";
import { ErrorResponse } from "./discovery.ts";

/** Job lifecycle. A cancelled job also carries `error.code = "cancelled"`. */
export type JobStatusValue = "queued" | "running" | "succeeded" | "failed" | "cancelled";
/** Job lifecycle. A cancelled job also carries `error.code = "cancelled"`. */
export const JobStatusValue: z.ZodType<JobStatusValue> = typed<JobStatusValue>()(
  z.enum(["queued", "running", "succeeded", "failed", "cancelled"]),
);

/** The statuses a job never leaves. */
export const FINISHED_JOB_STATUSES: ReadonlySet<JobStatusValue> = new Set([
  "succeeded",
  "failed",
  "cancelled",
]);

/** Whether a job with this status has ended (and will never change again). */
export function isJobFinished(status: JobStatusValue): boolean {
  return FINISHED_JOB_STATUSES.has(status);
}

/** Task lifecycle. */
export type TaskStatusValue = "queued" | "running" | "succeeded" | "failed" | "skipped" | "cancelled";
/** Task lifecycle. */
export const TaskStatusValue: z.ZodType<TaskStatusValue> = typed<TaskStatusValue>()(
  z.enum(["queued", "running", "succeeded", "failed", "skipped", "cancelled"]),
);

/** `201` answer to `POST /v1/prepare-jobs`. */
export interface PrepareJobAccepted {
  job_id: string;
  status_url: string;
  events_url: string;
  status: JobStatusValue;
}
/** `201` answer to `POST /v1/prepare-jobs`. */
export const PrepareJobAccepted: z.ZodType<PrepareJobAccepted> = typed<PrepareJobAccepted>()(z.object({
  job_id: z.string(),
  status_url: z.string(),
  events_url: z.string(),
  status: JobStatusValue,
}));

/** What a task starts from: an image (the base cluster of a PostgreSQL build) or a state. */
export interface TaskInput {
  kind: "image" | "state";
  id: string;
}
/** Where a task starts from. */
export const TaskInput: z.ZodType<TaskInput> = typed<TaskInput>()(
  z.object({ kind: z.enum(["image", "state"]), id: z.string() }),
);

/** One task of a job's plan. */
export type PreparePlanTask =
  | { task_id: string; type: "plan"; planner_kind: string }
  | { task_id: string; type: "resolve_image"; image_id: string; resolved_image_id: string }
  | {
    task_id: string;
    type: "state_execute";
    input: TaskInput;
    task_hash: string;
    output_state_id: string;
    /** The step does not run: its state exists, or a later state of the plan includes its result. */
    cached: boolean;
    /** Set when cached but its own state was not kept (see DESIGN §5): the later state that includes it. */
    included_in?: string | undefined;
    args_summary: string;
    changeset_id?: string | undefined;
    changeset_author?: string | undefined;
    changeset_path?: string | undefined;
  }
  | { task_id: string; type: "prepare_instance"; input: TaskInput; instance_mode: "ephemeral" };
/** One task of a job's plan. */
export const PreparePlanTask: z.ZodType<PreparePlanTask> = typed<PreparePlanTask>()(
  z.discriminatedUnion("type", [
    z.object({ task_id: z.string(), type: z.literal("plan"), planner_kind: z.string() }),
    z.object({
      task_id: z.string(),
      type: z.literal("resolve_image"),
      image_id: z.string(),
      resolved_image_id: z.string(),
    }),
    z.object({
      task_id: z.string(),
      type: z.literal("state_execute"),
      input: TaskInput,
      task_hash: z.string(),
      output_state_id: StateId,
      cached: z.boolean(),
      included_in: StateId.optional(),
      args_summary: z.string(),
      changeset_id: z.string().optional(),
      changeset_author: z.string().optional(),
      changeset_path: z.string().optional(),
    }),
    z.object({
      task_id: z.string(),
      type: z.literal("prepare_instance"),
      input: TaskInput,
      instance_mode: z.literal("ephemeral"),
    }),
  ]),
);

/** What a succeeded prepare job handed out. */
export interface PrepareJobResult {
  dsn: string;
  instance_id: string;
  state_id: string;
  image_id: string;
  prepare_kind: string;
  prepare_args_normalized: string;
  name: string | null;
}
/** What a succeeded prepare job handed out. */
export const PrepareJobResult: z.ZodType<PrepareJobResult> = typed<PrepareJobResult>()(z.object({
  dsn: z.string(),
  instance_id: z.string(),
  state_id: StateId,
  image_id: z.string(),
  prepare_kind: z.string(),
  prepare_args_normalized: z.string(),
  name: z.string().nullable(),
}));

/** `GET /v1/prepare-jobs/{id}`. */
export interface PrepareJobStatus {
  job_id: string;
  status: JobStatusValue;
  prepare_kind: string;
  image_id: string;
  plan_only: boolean;
  prepare_args_normalized: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  tasks: PreparePlanTask[];
  result: PrepareJobResult | null;
  error: ErrorResponse | null;
}
/** `GET /v1/prepare-jobs/{id}`. */
export const PrepareJobStatus: z.ZodType<PrepareJobStatus> = typed<PrepareJobStatus>()(z.object({
  job_id: z.string(),
  status: JobStatusValue,
  prepare_kind: z.string(),
  image_id: z.string(),
  plan_only: z.boolean(),
  prepare_args_normalized: z.string(),
  created_at: Timestamp,
  started_at: Timestamp.nullable(),
  finished_at: Timestamp.nullable(),
  tasks: z.array(PreparePlanTask),
  result: PrepareJobResult.nullable(),
  error: ErrorResponse.nullable(),
}));

/** One line of a job's NDJSON event stream. */
export interface PrepareJobEvent {
  type: "status" | "task" | "log" | "result" | "error";
  ts: string;
  task_id?: string | undefined;
  status?: string | undefined;
  message?: string | undefined;
  result?: PrepareJobResult | undefined;
  error?: ErrorResponse | undefined;
}
/** One line of a job's NDJSON event stream. */
export const PrepareJobEvent: z.ZodType<PrepareJobEvent> = typed<PrepareJobEvent>()(z.object({
  type: z.enum(["status", "task", "log", "result", "error"]),
  ts: Timestamp,
  task_id: z.string().optional(),
  status: z.string().optional(),
  message: z.string().optional(),
  result: PrepareJobResult.optional(),
  error: ErrorResponse.optional(),
}));

/** Most prepares one `POST /v1/prepare-jobs/batch` carries. */
export const MAX_PREPARE_BATCH = 100;

/**
 * `POST /v1/prepare-jobs/batch`: prepares sent together (a client's concurrent calls), each answered
 * as `POST /v1/prepare-jobs?wait=cached` would answer it alone. A local engine's: a team engine
 * takes each prepare on its own.
 */
export interface PrepareBatchRequest {
  /** Each a prepare request, checked on its own (a bad one is its own 400). */
  requests: unknown[];
}
/** `POST /v1/prepare-jobs/batch`. */
export const PrepareBatchRequest: z.ZodType<PrepareBatchRequest> = typed<PrepareBatchRequest>()(
  z.object({
    requests: z.array(z.unknown()).min(1).max(MAX_PREPARE_BATCH),
  }).strict(),
);

/** The answer to one prepare of a batch: the status and body it would have had alone. */
export interface PrepareBatchAnswer {
  status: number;
  body: unknown;
}
/** The answers of `POST /v1/prepare-jobs/batch`, in the order of its requests. */
export interface PrepareBatchResponse {
  answers: PrepareBatchAnswer[];
}
/** The answers of `POST /v1/prepare-jobs/batch`, in the order of its requests. */
export const PrepareBatchResponse: z.ZodType<PrepareBatchResponse> = typed<PrepareBatchResponse>()(z.object({
  answers: z.array(z.object({ status: z.number().int(), body: z.unknown() })),
}));
