/**
 * Inventory lists (jobs, tasks, states, instances, names) and delete trees.
 *
 * @module
 */

import { z } from "../deps.ts";
import { typed } from "./_typed.ts";
import { StateId, Timestamp } from "./common.ts";
import { JobStatusValue, TaskInput, TaskStatusValue } from "./jobs.ts";

/** `GET /v1/prepare-jobs` entries. */
export interface PrepareJobEntry {
  job_id: string;
  status: JobStatusValue;
  prepare_kind: string;
  image_id: string;
  resolved_image_id: string | null;
  prepare_args_normalized: string;
  signature: string | null;
  plan_only: boolean;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}
/** `GET /v1/prepare-jobs` entries. */
export const PrepareJobEntry: z.ZodType<PrepareJobEntry> = typed<PrepareJobEntry>()(z.object({
  job_id: z.string(),
  status: JobStatusValue,
  prepare_kind: z.string(),
  image_id: z.string(),
  resolved_image_id: z.string().nullable(),
  prepare_args_normalized: z.string(),
  signature: z.string().nullable(),
  plan_only: z.boolean(),
  created_at: Timestamp,
  started_at: Timestamp.nullable(),
  finished_at: Timestamp.nullable(),
}));

/** `GET /v1/tasks` entries. */
export interface TaskEntry {
  task_id: string;
  job_id: string;
  type: string;
  status: TaskStatusValue;
  input: TaskInput | null;
  output_state_id: string | null;
  cached: boolean | null;
  args_summary: string | null;
  changeset_id: string | null;
  changeset_author: string | null;
  changeset_path: string | null;
}
/** `GET /v1/tasks` entries. */
export const TaskEntry: z.ZodType<TaskEntry> = typed<TaskEntry>()(z.object({
  task_id: z.string(),
  job_id: z.string(),
  type: z.string(),
  status: TaskStatusValue,
  input: TaskInput.nullable(),
  output_state_id: z.string().nullable(),
  cached: z.boolean().nullable(),
  args_summary: z.string().nullable(),
  changeset_id: z.string().nullable(),
  changeset_author: z.string().nullable(),
  changeset_path: z.string().nullable(),
}));

/** `GET /v1/states` entries. */
export interface StateEntry {
  state_id: string;
  parent_state_id: string | null;
  image_id: string;
  prepare_kind: string;
  prepare_args_normalized: string;
  created_at: string;
  size_bytes: number | null;
  last_used_at: string | null;
  use_count: number;
  refcount: number;
}
/** `GET /v1/states` entries. */
export const StateEntry: z.ZodType<StateEntry> = typed<StateEntry>()(z.object({
  state_id: StateId,
  parent_state_id: StateId.nullable(),
  image_id: z.string(),
  prepare_kind: z.string(),
  prepare_args_normalized: z.string(),
  created_at: Timestamp,
  size_bytes: z.number().int().nullable(),
  last_used_at: Timestamp.nullable(),
  use_count: z.number().int(),
  refcount: z.number().int(),
}));

/**
 * Instance status: `running` when its server answers, `stopped` when it does not (after a reboot, or a
 * server killed by hand: the next `run` restarts it), `expired` past its TTL (about to be deleted).
 */
export type InstanceStatusValue = "running" | "stopped" | "expired";
/** Instance status: `running`, `stopped` (the next `run` restarts it) or `expired` past its TTL. */
export const InstanceStatusValue: z.ZodType<InstanceStatusValue> = typed<InstanceStatusValue>()(
  z.enum(["running", "stopped", "expired"]),
);

/** `GET /v1/instances` entries. */
export interface InstanceEntry {
  instance_id: string;
  image_id: string;
  state_id: string;
  name: string | null;
  created_at: string;
  expires_at: string | null;
  status: InstanceStatusValue;
  runtime: string;
  runtime_id: string;
  /** The loopback port its server listens on (the DSN's). */
  port: number;
  dsn: string;
}
/** `GET /v1/instances` entries. */
export const InstanceEntry: z.ZodType<InstanceEntry> = typed<InstanceEntry>()(z.object({
  instance_id: z.string(),
  image_id: z.string(),
  state_id: StateId,
  name: z.string().nullable(),
  created_at: Timestamp,
  expires_at: Timestamp.nullable(),
  status: InstanceStatusValue,
  runtime: z.string(),
  runtime_id: z.string(),
  port: z.number().int(),
  dsn: z.string(),
}));

/** `POST /v1/instances/prune` body. */
export interface PruneRequest {
  /** List what would be deleted, delete nothing. */
  dry_run?: boolean | undefined;
  /** Also named instances and instances with clients connected (their sessions are terminated). */
  all?: boolean | undefined;
}
/** `POST /v1/instances/prune` body. */
export const PruneRequest: z.ZodType<PruneRequest> = typed<PruneRequest>()(z.strictObject({
  dry_run: z.boolean().optional(),
  all: z.boolean().optional(),
}));

/** An instance `prune` looked at: why it is kept, if it is. */
export interface PruneEntry {
  instance_id: string;
  name: string | null;
  connections: number;
  created_at: string;
  /** Why it stays: named, clients connected, or its job's client has not collected it yet. */
  kept: "named" | "connected" | "undelivered" | null;
}
/** An instance `prune` looked at. */
export const PruneEntry: z.ZodType<PruneEntry> = typed<PruneEntry>()(z.object({
  instance_id: z.string(),
  name: z.string().nullable(),
  connections: z.number().int(),
  created_at: Timestamp,
  kept: z.enum(["named", "connected", "undelivered"]).nullable(),
}));

/** `POST /v1/instances/prune` answer: the deleted (or, dry run, to be deleted) instances and the kept ones. */
export interface PruneResult {
  dry_run: boolean;
  deleted: PruneEntry[];
  kept: PruneEntry[];
}
/** `POST /v1/instances/prune` answer. */
export const PruneResult: z.ZodType<PruneResult> = typed<PruneResult>()(z.object({
  dry_run: z.boolean(),
  deleted: z.array(PruneEntry),
  kept: z.array(PruneEntry),
}));

/** `GET /v1/names` entries. */
export interface NameEntry {
  name: string;
  instance_id: string | null;
  image_id: string;
  state_id: string;
  status: "active" | "missing" | "expired";
  last_used_at: string | null;
}
/** `GET /v1/names` entries. */
export const NameEntry: z.ZodType<NameEntry> = typed<NameEntry>()(z.object({
  name: z.string(),
  instance_id: z.string().nullable(),
  image_id: z.string(),
  state_id: StateId,
  status: z.enum(["active", "missing", "expired"]),
  last_used_at: Timestamp.nullable(),
}));

/** A node of a delete tree. */
export interface DeleteTreeNode {
  kind: "state" | "instance" | "job";
  id: string;
  connections?: number | undefined;
  runtime_id?: string | undefined;
  blocked?: "active_connections" | "active_tasks" | "has_descendants" | "blocked_by_descendant" | undefined;
  children?: DeleteTreeNode[] | undefined;
}
/** A node of a delete tree. */
export const DeleteTreeNode: z.ZodType<DeleteTreeNode> = z.lazy(() =>
  z.object({
    kind: z.enum(["state", "instance", "job"]),
    id: z.string(),
    connections: z.number().int().optional(),
    runtime_id: z.string().optional(),
    blocked: z.enum(["active_connections", "active_tasks", "has_descendants", "blocked_by_descendant"])
      .optional(),
    children: z.array(DeleteTreeNode).optional(),
  })
);

/** `DELETE /v1/{instances,states,prepare-jobs}/{id}` answer. */
export interface DeleteResult {
  dry_run: boolean;
  outcome: "deleted" | "would_delete" | "blocked";
  root: DeleteTreeNode;
}
/** `DELETE /v1/{instances,states,prepare-jobs}/{id}` answer. */
export const DeleteResult: z.ZodType<DeleteResult> = typed<DeleteResult>()(z.object({
  dry_run: z.boolean(),
  outcome: z.enum(["deleted", "would_delete", "blocked"]),
  root: DeleteTreeNode,
}));
