/**
 * The registry's rows as the engine uses them, and how they are read from SQLite's rows.
 *
 * @module
 */

import type { SQLInputValue } from "node:sqlite";
import type { ResolvedImage, ServerHandle } from "../runtime/types.ts";
import type {
  ErrorResponse,
  JobStatusValue,
  PrepareJobRequest,
  PrepareJobResult,
  PreparePlanTask,
  TaskStatusValue,
} from "../../shared/schemas.ts";

/** A base data directory of one PostgreSQL build. */
export interface BaseRow {
  store_dir: string;
  resolved_image_id: string;
  created_at: string;
}

/** What a step was built from: enough to tell later which input changed. */
export interface StateInputs {
  /** `-f /abs/path`, `-f -` or `-c …`. */
  input: string;
  options: string[];
  tool: string;
  /** Absolute path → SHA-256 of each file the step read. */
  files: Record<string, string>;
  /**
   * The step's parent in the chain (base identity or state id). It differs from `parent_state_id`
   * (the kept state the build started from) when the states between were not kept.
   */
  parent?: string;
  /**
   * The steps of the build between the kept parent and this state, whose own states were not kept:
   * `cache explain` tells them from changed steps. `files` is left out where it equals this state's.
   */
  unkept?: UnkeptStep[];
}

/** A step whose state was not kept, as recorded with the kept state that includes its result. */
export type UnkeptStep = Omit<StateInputs, "files" | "unkept"> & {
  state_id: string;
  files?: Record<string, string>;
};

/** A published state. */
export interface StateRow {
  state_id: string;
  parent_state_id: string | null;
  image_id: string;
  store_dir: string;
  prepare_kind: string;
  prepare_args_normalized: string;
  created_at: string;
  size_bytes: number | null;
  last_used_at: string | null;
  use_count: number;
  inputs: StateInputs | null;
}

/** An instance handed out to a user. */
export interface InstanceRow {
  instance_id: string;
  state_id: string;
  image_id: string;
  image: ResolvedImage;
  server: ServerHandle;
  instance_dir: string;
  job_id: string | null;
  created_at: string;
  expires_at: string | null;
  name: string | null;
}

/** A name bound to an instance. */
export interface NameRow {
  name: string;
  instance_id: string;
  state_id: string;
  image_id: string;
  created_at: string;
  last_used_at: string | null;
}

/** A prepare job. */
/** How a job ended. */
export type JobOutcome =
  | { status: "succeeded"; result: PrepareJobResult | null }
  | { status: "failed" | "cancelled"; error: ErrorResponse };

export interface JobRow {
  job_id: string;
  status: JobStatusValue;
  prepare_kind: string;
  image_id: string;
  resolved_image_id: string | null;
  plan_only: boolean;
  request: PrepareJobRequest;
  prepare_args_normalized: string;
  signature: string | null;
  result: PrepareJobResult | null;
  error: ErrorResponse | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** When a client first read the job's final status (its result or error). */
  collected_at: string | null;
}

/** A task of a job, with its status. */
export interface TaskRow {
  job_id: string;
  position: number;
  status: TaskStatusValue;
  task: PreparePlanTask;
}

/** A row as node:sqlite returns it. */
export type Row = Record<string, SQLInputValue>;

/** The current time as stored: ISO-8601. */
export function now(): string {
  return new Date().toISOString();
}

export function toState(row: Row): StateRow {
  return {
    state_id: row.state_id as string,
    parent_state_id: row.parent_state_id as string | null,
    image_id: row.image_id as string,
    store_dir: row.store_dir as string,
    prepare_kind: row.prepare_kind as string,
    prepare_args_normalized: row.prepare_args_normalized as string,
    created_at: row.created_at as string,
    size_bytes: row.size_bytes === null ? null : Number(row.size_bytes),
    last_used_at: row.last_used_at as string | null,
    use_count: Number(row.use_count),
    inputs: row.inputs_json === null || row.inputs_json === undefined
      ? null
      : JSON.parse(row.inputs_json as string),
  };
}

export function toInstance(row: Row): InstanceRow {
  return {
    instance_id: row.instance_id as string,
    state_id: row.state_id as string,
    image_id: row.image_id as string,
    image: JSON.parse(row.image_json as string),
    server: JSON.parse(row.server_json as string),
    instance_dir: row.instance_dir as string,
    job_id: row.job_id as string | null,
    created_at: row.created_at as string,
    expires_at: row.expires_at as string | null,
    name: (row.name ?? null) as string | null,
  };
}

export function toJob(row: Row): JobRow {
  return {
    job_id: row.job_id as string,
    status: row.status as JobStatusValue,
    prepare_kind: row.prepare_kind as string,
    image_id: row.image_id as string,
    resolved_image_id: row.resolved_image_id as string | null,
    plan_only: row.plan_only === 1,
    request: JSON.parse(row.request_json as string),
    prepare_args_normalized: row.prepare_args_normalized as string,
    signature: row.signature as string | null,
    result: row.result_json === null ? null : JSON.parse(row.result_json as string),
    error: row.error_json === null ? null : JSON.parse(row.error_json as string),
    created_at: row.created_at as string,
    started_at: row.started_at as string | null,
    finished_at: row.finished_at as string | null,
    collected_at: (row.collected_at ?? null) as string | null,
  };
}
