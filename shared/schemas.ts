/**
 * The API contract between the sqlrs CLI (and any client) and the engine: zod schemas of every
 * request, response, NDJSON event, error body and the engine config. The engine validates every
 * request body with these schemas and clients parse every response with them.
 *
 * @example
 * ```ts
 * import { PrepareJobRequest } from "@sqlrs/sqlrs/schemas";
 * const request = PrepareJobRequest.parse({
 *   prepare_kind: "psql",
 *   psql_args: ["-c", "create table t(id int)"],
 *   work_dir: "/tmp",
 * });
 * ```
 *
 * @module
 */

import { z } from "zod";

/** A 64-hex state id (a SHA-256 fingerprint). */
export const StateId: z.ZodString = z.string().regex(/^[0-9a-f]{64}$/, "expected a 64-hex state id");
/** A 32-hex instance or job id. */
export const RandomId: z.ZodString = z.string().regex(/^[0-9a-f]{32}$/, "expected a 32-hex id");
/** An ISO-8601 timestamp. */
export const Timestamp: z.ZodString = z.string();

/** A duration such as `90s`, `30m`, `2h`, `500ms`. */
export const Duration: z.ZodString = z.string().regex(
  /^\d+(ms|s|m|h|d)$/,
  'expected a duration such as "30s", "10m", "2h"',
);

// ---------------------------------------------------------------------------------------------------
// Errors and discovery

/** The body of every API error. */
export const ErrorResponse = z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
/** The body of every API error. */
export type ErrorResponse = z.infer<typeof ErrorResponse>;

/** `GET /v1/health` (no token needed). */
export const Health = z.object({
  ok: z.boolean(),
  version: z.string(),
  instanceId: z.string(),
  pid: z.number().int(),
});
/** `GET /v1/health` (no token needed). */
export type Health = z.infer<typeof Health>;

/** `<state dir>/engine.json`: how clients find and authenticate to the running engine. */
export const EngineFile = z.object({
  endpoint: z.string(),
  pid: z.number().int(),
  startedAt: Timestamp,
  authToken: z.string().min(16),
  version: z.string(),
  instanceId: z.string(),
});
/** `<state dir>/engine.json`: how clients find and authenticate to the running engine. */
export type EngineFile = z.infer<typeof EngineFile>;

// ---------------------------------------------------------------------------------------------------
// Engine config (`<store>/config.json`, `/v1/config`)

const CacheCapacityConfig = z.strictObject({
  maxBytes: z.number().int().min(0).nullable().default(null)
    .describe("Upper bound of the state cache in bytes; null = the store's size minus reserveBytes"),
  reserveBytes: z.number().int().min(0).nullable().default(null)
    .describe("Free space to keep on the store; null = 10% of the store, at most 10 GiB"),
  highWatermark: z.number().gt(0).max(1).default(0.9).describe(
    "Eviction starts above this share of the limit",
  ),
  lowWatermark: z.number().gt(0).max(1).default(0.8).describe("Eviction stops below this share of the limit"),
  minStateAge: Duration.default("10m").describe("States younger than this are never evicted"),
});

/** The engine's configuration with every default applied. Unknown keys are refused. */
export const EngineConfig = z.strictObject({
  orchestrator: z.strictObject({
    jobs: z.strictObject({
      maxIdentical: z.number().int().min(0).nullable().default(2)
        .describe("Finished jobs kept per signature; 0 disables trimming"),
    }).prefault({}),
  }).prefault({}),
  container: z.strictObject({
    runtime: z.enum(["auto", "docker", "podman", "host"]).default("auto")
      .describe("Where PostgreSQL runs; auto = host for host builds, else docker, then podman"),
  }).prefault({}),
  snapshot: z.strictObject({
    backend: z.enum(["auto", "btrfs", "overlay", "copy"]).default("auto")
      .describe("How states and instances are snapshotted; auto = btrfs, then overlay, then copy"),
  }).prefault({}),
  cache: z.strictObject({ capacity: CacheCapacityConfig.prefault({}) }).prefault({}),
  instances: z.strictObject({
    ttl: Duration.nullable().default(null).describe(
      "Default lifetime of a prepared instance; null = no limit",
    ),
  }).prefault({}),
  liquibase: z.strictObject({
    exec: z.string().nullable().default(null).describe("Path of the liquibase launcher to use"),
  }).prefault({}),
});
/** The engine's configuration with every default applied. */
export type EngineConfig = z.infer<typeof EngineConfig>;

/** `GET /v1/config?path=` and `PATCH /v1/config` answers. */
export const ConfigValue = z.object({ path: z.string(), value: z.unknown() });
/** `GET /v1/config?path=` and `PATCH /v1/config` answers. */
export type ConfigValue = z.infer<typeof ConfigValue>;

/** `PATCH /v1/config` body. */
export const ConfigSetRequest = z.strictObject({ path: z.string().min(1), value: z.unknown() });
/** `PATCH /v1/config` body. */
export type ConfigSetRequest = z.infer<typeof ConfigSetRequest>;

// ---------------------------------------------------------------------------------------------------
// Status

/** One runtime or snapshot backend and whether it can work here. */
export const Capability = z.object({
  name: z.string(),
  available: z.boolean(),
  selected: z.boolean(),
  detail: z.string(),
});
/** One runtime or snapshot backend and whether it can work here. */
export type Capability = z.infer<typeof Capability>;

/** `GET /v1/status`. */
export const EngineStatus = z.object({
  ok: z.boolean(),
  version: z.string(),
  pid: z.number().int(),
  instanceId: z.string(),
  startedAt: Timestamp,
  stateDir: z.string(),
  storeRoot: z.string(),
  runtimes: z.array(Capability),
  snapshotBackends: z.array(Capability),
  snapshotReason: z.string(),
  counts: z.object({ states: z.number().int(), instances: z.number().int(), jobs: z.number().int() }),
});
/** `GET /v1/status`. */
export type EngineStatus = z.infer<typeof EngineStatus>;

// ---------------------------------------------------------------------------------------------------
// Prepare jobs

/** `POST /v1/prepare-jobs` for psql steps. File paths in `psql_args` are absolute (the CLI resolves them). */
export const PrepareJobRequestPsql = z.strictObject({
  prepare_kind: z.literal("psql"),
  image_id: z.string().min(1).optional(),
  psql_args: z.array(z.string()),
  stdin: z.string().optional(),
  work_dir: z.string().startsWith("/", "work_dir must be an absolute path"),
  plan_only: z.boolean().optional(),
  name: z.string().regex(
    /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/,
    "a name starts with a letter: letters, digits, _ . -",
  ).optional(),
  rebind: z.boolean().optional(),
  ttl: Duration.optional(),
});
/** `POST /v1/prepare-jobs` for psql steps. */
export type PrepareJobRequestPsql = z.infer<typeof PrepareJobRequestPsql>;

/** `POST /v1/prepare-jobs` body. */
export const PrepareJobRequest = z.discriminatedUnion("prepare_kind", [PrepareJobRequestPsql]);
/** `POST /v1/prepare-jobs` body. */
export type PrepareJobRequest = z.infer<typeof PrepareJobRequest>;

/** Job lifecycle. Cancellation is `failed` with `error.code = "cancelled"`. */
export const JobStatusValue = z.enum(["queued", "running", "succeeded", "failed"]);
/** Job lifecycle. */
export type JobStatusValue = z.infer<typeof JobStatusValue>;

/** Task lifecycle. */
export const TaskStatusValue = z.enum(["queued", "running", "succeeded", "failed", "skipped"]);
/** Task lifecycle. */
export type TaskStatusValue = z.infer<typeof TaskStatusValue>;

/** `201` answer to `POST /v1/prepare-jobs`. */
export const PrepareJobAccepted = z.object({
  job_id: z.string(),
  status_url: z.string(),
  events_url: z.string(),
  status: JobStatusValue,
});
/** `201` answer to `POST /v1/prepare-jobs`. */
export type PrepareJobAccepted = z.infer<typeof PrepareJobAccepted>;

const TaskInput = z.object({ kind: z.enum(["image", "state"]), id: z.string() });

/** One task of a job's plan. */
export const PreparePlanTask = z.discriminatedUnion("type", [
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
]);
/** One task of a job's plan. */
export type PreparePlanTask = z.infer<typeof PreparePlanTask>;

/** What a succeeded prepare job handed out. */
export const PrepareJobResult = z.object({
  dsn: z.string(),
  instance_id: z.string(),
  state_id: StateId,
  image_id: z.string(),
  prepare_kind: z.string(),
  prepare_args_normalized: z.string(),
  name: z.string().nullable(),
});
/** What a succeeded prepare job handed out. */
export type PrepareJobResult = z.infer<typeof PrepareJobResult>;

/** `GET /v1/prepare-jobs/{id}`. */
export const PrepareJobStatus = z.object({
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
});
/** `GET /v1/prepare-jobs/{id}`. */
export type PrepareJobStatus = z.infer<typeof PrepareJobStatus>;

/** One line of a job's NDJSON event stream. */
export const PrepareJobEvent = z.object({
  type: z.enum(["status", "task", "log", "result", "error"]),
  ts: Timestamp,
  task_id: z.string().optional(),
  status: z.string().optional(),
  message: z.string().optional(),
  result: PrepareJobResult.optional(),
  error: ErrorResponse.optional(),
});
/** One line of a job's NDJSON event stream. */
export type PrepareJobEvent = z.infer<typeof PrepareJobEvent>;

// ---------------------------------------------------------------------------------------------------
// Inventory

/** `GET /v1/prepare-jobs` entries. */
export const PrepareJobEntry = z.object({
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
});
/** `GET /v1/prepare-jobs` entries. */
export type PrepareJobEntry = z.infer<typeof PrepareJobEntry>;

/** `GET /v1/tasks` entries. */
export const TaskEntry = z.object({
  task_id: z.string(),
  job_id: z.string(),
  type: z.string(),
  status: TaskStatusValue,
  input: TaskInput.nullable(),
  output_state_id: z.string().nullable(),
  cached: z.boolean().nullable(),
  args_summary: z.string().nullable(),
});
/** `GET /v1/tasks` entries. */
export type TaskEntry = z.infer<typeof TaskEntry>;

/** `GET /v1/states` entries. */
export const StateEntry = z.object({
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
});
/** `GET /v1/states` entries. */
export type StateEntry = z.infer<typeof StateEntry>;

/** Instance status: `expired` past its TTL, `orphaned` when no name points at it. */
export const InstanceStatusValue = z.enum(["active", "expired", "orphaned"]);

/** `GET /v1/instances` entries. */
export const InstanceEntry = z.object({
  instance_id: z.string(),
  image_id: z.string(),
  state_id: StateId,
  name: z.string().nullable(),
  created_at: Timestamp,
  expires_at: Timestamp.nullable(),
  status: InstanceStatusValue,
  runtime: z.string(),
  runtime_id: z.string(),
  dsn: z.string(),
});
/** `GET /v1/instances` entries. */
export type InstanceEntry = z.infer<typeof InstanceEntry>;

/** `GET /v1/names` entries. */
export const NameEntry = z.object({
  name: z.string(),
  instance_id: z.string().nullable(),
  image_id: z.string(),
  state_id: StateId,
  status: z.enum(["active", "missing", "expired"]),
  last_used_at: Timestamp.nullable(),
});
/** `GET /v1/names` entries. */
export type NameEntry = z.infer<typeof NameEntry>;

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
export const DeleteResult = z.object({
  dry_run: z.boolean(),
  outcome: z.enum(["deleted", "would_delete", "blocked"]),
  root: DeleteTreeNode,
});
/** `DELETE /v1/{instances,states,prepare-jobs}/{id}` answer. */
export type DeleteResult = z.infer<typeof DeleteResult>;

// ---------------------------------------------------------------------------------------------------
// Runs

const RunStep = z.strictObject({ args: z.array(z.string()), stdin: z.string().optional() });

/** `POST /v1/runs`: run psql or pgbench against an instance. `steps` excludes `args`/`stdin`. */
export const RunRequest = z.strictObject({
  instance_ref: z.string().min(1),
  kind: z.enum(["psql", "pgbench"]),
  command: z.string().nullable().optional(),
  args: z.array(z.string()).default([]),
  stdin: z.string().optional(),
  steps: z.array(RunStep).optional(),
  work_dir: z.string().optional(),
});
/** `POST /v1/runs` body. */
export type RunRequest = z.input<typeof RunRequest>;

/** One line of a run's NDJSON stream. `stdout`/`stderr` data is base64 so that any bytes survive. */
export const RunEvent = z.object({
  type: z.enum(["start", "stdout", "stderr", "exit", "error", "log"]),
  ts: Timestamp,
  instance_id: z.string().optional(),
  data: z.string().optional(),
  exit_code: z.number().int().optional(),
  error: ErrorResponse.optional(),
});
/** One line of a run's NDJSON stream. */
export type RunEvent = z.infer<typeof RunEvent>;

// ---------------------------------------------------------------------------------------------------
// Cache

/** What one eviction run did. */
export const EvictionReport = z.object({
  completed_at: Timestamp,
  trigger: z.string(),
  evicted_count: z.number().int(),
  freed_bytes: z.number().int(),
  blocked_count: z.number().int(),
  usage_bytes_before: z.number().int(),
  usage_bytes_after: z.number().int(),
  free_bytes_before: z.number().int(),
  free_bytes_after: z.number().int(),
});
/** What one eviction run did. */
export type EvictionReport = z.infer<typeof EvictionReport>;

/** `GET /v1/cache/status`: the bounded cache's diagnostics. */
export const CacheStatus = z.object({
  usage_bytes: z.number().int(),
  configured_max_bytes: z.number().int().nullable(),
  effective_max_bytes: z.number().int(),
  reserve_bytes: z.number().int(),
  high_watermark: z.number(),
  low_watermark: z.number(),
  min_state_age: z.string(),
  store_total_bytes: z.number().int(),
  store_free_bytes: z.number().int(),
  state_count: z.number().int(),
  reclaimable_bytes: z.number().int(),
  blocked_count: z.number().int(),
  pressure_reasons: z.array(z.string()),
  last_eviction: EvictionReport.nullable(),
});
/** `GET /v1/cache/status`. */
export type CacheStatus = z.infer<typeof CacheStatus>;

/** One step of a `cache explain` answer. */
export const CacheExplainStep = z.object({
  task_id: z.string(),
  input: z.string(),
  output_state_id: StateId,
  decision: z.enum(["hit", "miss"]),
  /** For a miss: why, compared with the nearest cached state. */
  reason_code: z.enum(["exact_state_match", "parent_changed", "input_changed", "no_matching_state"]),
  reason: z.string(),
  nearest_state_id: StateId.nullable(),
  changed_files: z.array(z.string()),
});
/** One step of a `cache explain` answer. */
export type CacheExplainStep = z.infer<typeof CacheExplainStep>;

/** `POST /v1/cache/explain/prepare`: hit/miss per step without creating a job or an instance. */
export const CacheExplain = z.object({
  decision: z.enum(["hit", "miss"]),
  image_id: z.string(),
  resolved_image_id: z.string(),
  final_state_id: StateId,
  steps: z.array(CacheExplainStep),
});
/** `POST /v1/cache/explain/prepare` answer. */
export type CacheExplain = z.infer<typeof CacheExplain>;
