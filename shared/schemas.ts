/**
 * The API contract between the sqlrs CLI (and any client) and the engine: zod schemas of every
 * request, response, NDJSON event, error body and the engine config. The engine validates every
 * request body with these schemas and clients parse every response with them.
 *
 * Each schema has an explicitly declared TypeScript type of the same name (so the published API has
 * no slow types); a compile-time check keeps each declaration equal to what its schema parses.
 *
 * @example Validate a prepare request
 * ```ts
 * import { PrepareJobRequest } from "@sqlrs/sqlrs/schemas";
 * const request = PrepareJobRequest.parse({
 *   prepare_kind: "psql",
 *   psql_args: ["-c", "create table t(id int)"],
 *   work_dir: "/tmp",
 * });
 * if (request.prepare_kind !== "psql") throw new Error("unexpected kind");
 * ```
 *
 * @module
 */

import { z } from "./deps.ts";
import { isWithinMaxDuration } from "./duration.ts";

/** True when A and B are assignable to each other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/**
 * Gives a schema its declared type `z.ZodType<T, I>` after checking, at compile time, that it parses
 * to exactly `T` (and, when `I` is given, accepts exactly `I`): a schema and its declaration cannot
 * drift apart.
 */
function typed<T, I = unknown>() {
  return <S extends z.ZodType<T, I>>(
    schema:
      & S
      & (Same<z.output<S>, T> extends true ? unknown : { "the schema's output differs from its type": never })
      & (unknown extends I ? unknown
        : Same<z.input<S>, I> extends true ? unknown
        : { "the schema's input differs from its type": never }),
  ): z.ZodType<T, I> => schema;
}

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
).refine(isWithinMaxDuration, "expected a duration of at most 36500d (100 years)");

// ---------------------------------------------------------------------------------------------------
// Errors and discovery

/** The body of every API error. */
export interface ErrorResponse {
  code: string;
  message: string;
  details?: Record<string, unknown> | undefined;
}
/** The body of every API error. */
export const ErrorResponse: z.ZodType<ErrorResponse> = typed<ErrorResponse>()(z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
}));

/** `GET /v1/health` (no token needed). */
export interface Health {
  ok: boolean;
  version: string;
  instanceId: string;
  pid: number;
  /** Whether a job runs or a stream is open (an idle engine of another version may be replaced). */
  busy?: boolean | undefined;
}
/** `GET /v1/health` (no token needed). */
export const Health: z.ZodType<Health> = typed<Health>()(z.object({
  ok: z.boolean(),
  version: z.string(),
  instanceId: z.string(),
  pid: z.number().int(),
  busy: z.boolean().optional(),
}));

/** `<state dir>/engine.json`: how clients find and authenticate to the running engine. */
export interface EngineFile {
  endpoint: string;
  pid: number;
  startedAt: string;
  authToken: string;
  version: string;
  instanceId: string;
}
/** `<state dir>/engine.json`: how clients find and authenticate to the running engine. */
export const EngineFile: z.ZodType<EngineFile> = typed<EngineFile>()(z.object({
  endpoint: z.string(),
  pid: z.number().int(),
  startedAt: Timestamp,
  authToken: z.string().min(16),
  version: z.string(),
  instanceId: z.string(),
}));

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
  minStateAge: Duration.default("10m").describe(
    "Leaf states younger than this are never evicted (states with descendants can go at any age)",
  ),
});

/** The engine's configuration with every default applied (what `EngineConfig.parse` returns). */
export interface EngineConfig {
  orchestrator: { jobs: { maxIdentical: number | null } };
  container: { runtime: "auto" | "docker" | "podman" | "host" };
  snapshot: { backend: "auto" | "btrfs" | "overlay" | "copy" };
  cache: {
    capacity: {
      maxBytes: number | null;
      reserveBytes: number | null;
      highWatermark: number;
      lowWatermark: number;
      minStateAge: string;
    };
  };
  instances: { ttl: string | null; collectGrace: string };
  liquibase: { exec: string | null };
}

/** The engine's configuration as written in `config.json`: every key may be left out for its default. */
export interface EngineConfigInput {
  orchestrator?: { jobs?: { maxIdentical?: number | null | undefined } | undefined } | undefined;
  container?: { runtime?: "auto" | "docker" | "podman" | "host" | undefined } | undefined;
  snapshot?: { backend?: "auto" | "btrfs" | "overlay" | "copy" | undefined } | undefined;
  cache?: {
    capacity?: {
      maxBytes?: number | null | undefined;
      reserveBytes?: number | null | undefined;
      highWatermark?: number | undefined;
      lowWatermark?: number | undefined;
      minStateAge?: string | undefined;
    } | undefined;
  } | undefined;
  instances?: { ttl?: string | null | undefined; collectGrace?: string | undefined } | undefined;
  liquibase?: { exec?: string | null | undefined } | undefined;
}

/** The engine's configuration with every default applied. Unknown keys are refused. */
export const EngineConfig: z.ZodType<EngineConfig, EngineConfigInput> = typed<
  EngineConfig,
  EngineConfigInput
>()(
  z.strictObject({
    orchestrator: z.strictObject({
      jobs: z.strictObject({
        maxIdentical: z.number().int().min(0).nullable().default(2)
          .describe(
            "Finished jobs kept per signature; an older one is deleted only once a client read its final " +
              "status, or it finished more than instances.collectGrace ago and holds no instance; " +
              "0 or null disables trimming",
          ),
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
      collectGrace: Duration.default("10m").describe(
        "A succeeded job's instance is delivered when a client reads the job's status; one no client " +
          "collected within this time after the job finished (e.g. its client died) is deleted",
      ),
    }).prefault({}),
    liquibase: z.strictObject({
      exec: z.string().nullable().default(null).describe("Path of the liquibase launcher to use"),
    }).prefault({}),
  }),
);

/** `GET /v1/config?path=` and `PATCH /v1/config` answers. */
export interface ConfigValue {
  path: string;
  value: unknown;
}
/** `GET /v1/config?path=` and `PATCH /v1/config` answers. */
export const ConfigValue: z.ZodType<ConfigValue> = typed<ConfigValue>()(
  z.object({ path: z.string(), value: z.unknown() }),
);

/** `PATCH /v1/config` body. */
export interface ConfigSetRequest {
  path: string;
  value: unknown;
}
/** `PATCH /v1/config` body. */
export const ConfigSetRequest: z.ZodType<ConfigSetRequest> = typed<ConfigSetRequest>()(
  z.strictObject({ path: z.string().min(1), value: z.unknown() }),
);

// ---------------------------------------------------------------------------------------------------
// Status

/** One runtime or snapshot backend and whether it can work here. */
export interface Capability {
  name: string;
  available: boolean;
  selected: boolean;
  detail: string;
}
/** One runtime or snapshot backend and whether it can work here. */
export const Capability: z.ZodType<Capability> = typed<Capability>()(z.object({
  name: z.string(),
  available: z.boolean(),
  selected: z.boolean(),
  detail: z.string(),
}));

/** `GET /v1/status`. */
export interface EngineStatus {
  ok: boolean;
  version: string;
  pid: number;
  instanceId: string;
  startedAt: string;
  stateDir: string;
  storeRoot: string;
  runtimes: Capability[];
  snapshotBackends: Capability[];
  snapshotReason: string;
  /**
   * What is wrong with the engine's configuration (a snapshot backend that cannot work here, an invalid
   * config file): the engine runs anyway, and what needs the broken part fails with the same reason.
   */
  problems: string[];
  /** The Liquibase that `prepare:lb` would use (path, version), or why there is none. */
  liquibase: { available: boolean; detail: string };
  counts: { states: number; instances: number; jobs: number };
}
/** `GET /v1/status`. */
export const EngineStatus: z.ZodType<EngineStatus> = typed<EngineStatus>()(z.object({
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
  problems: z.array(z.string()),
  liquibase: z.object({ available: z.boolean(), detail: z.string() }),
  counts: z.object({ states: z.number().int(), instances: z.number().int(), jobs: z.number().int() }),
}));

// ---------------------------------------------------------------------------------------------------
// Prepare jobs

const InstanceName = z.string().regex(
  /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/,
  "a name starts with a letter: letters, digits, _ . -",
);

const PsqlRequestSchema = z.strictObject({
  prepare_kind: z.literal("psql"),
  image_id: z.string().min(1).optional(),
  psql_args: z.array(z.string()),
  stdin: z.string().optional(),
  work_dir: z.string().startsWith("/", "work_dir must be an absolute path"),
  plan_only: z.boolean().optional(),
  name: InstanceName.optional(),
  rebind: z.boolean().optional(),
  ttl: Duration.optional(),
  deadline: Duration.optional(),
  statement_timeout: Duration.optional(),
});

/** `POST /v1/prepare-jobs` for psql steps. File paths in `psql_args` are absolute (the CLI resolves them). */
export interface PrepareJobRequestPsql {
  prepare_kind: "psql";
  image_id?: string | undefined;
  psql_args: string[];
  stdin?: string | undefined;
  work_dir: string;
  plan_only?: boolean | undefined;
  name?: string | undefined;
  rebind?: boolean | undefined;
  ttl?: string | undefined;
  /** The job's wall-clock limit from its submission; when it passes, the job is cancelled. */
  deadline?: string | undefined;
  /** PostgreSQL's `statement_timeout` for every step; not part of a state's key (see DESIGN). */
  statement_timeout?: string | undefined;
}
/** `POST /v1/prepare-jobs` for psql steps. File paths in `psql_args` are absolute (the CLI resolves them). */
export const PrepareJobRequestPsql: z.ZodType<PrepareJobRequestPsql> = typed<PrepareJobRequestPsql>()(
  PsqlRequestSchema,
);

const LiquibaseRequestSchema = z.strictObject({
  prepare_kind: z.literal("lb"),
  image_id: z.string().min(1).optional(),
  liquibase_args: z.array(z.string()),
  work_dir: z.string().startsWith("/", "work_dir must be an absolute path"),
  plan_only: z.boolean().optional(),
  name: InstanceName.optional(),
  rebind: z.boolean().optional(),
  ttl: Duration.optional(),
  deadline: Duration.optional(),
  statement_timeout: Duration.optional(),
});

/**
 * `POST /v1/prepare-jobs` for Liquibase: `liquibase_args` are the `update` command and its options
 * (changelog, search path, contexts, labels); relative paths resolve against `work_dir`.
 */
export interface PrepareJobRequestLiquibase {
  prepare_kind: "lb";
  image_id?: string | undefined;
  liquibase_args: string[];
  work_dir: string;
  plan_only?: boolean | undefined;
  name?: string | undefined;
  rebind?: boolean | undefined;
  ttl?: string | undefined;
  /** The job's wall-clock limit from its submission; when it passes, the job is cancelled. */
  deadline?: string | undefined;
  /** PostgreSQL's `statement_timeout` for every step; not part of a state's key (see DESIGN). */
  statement_timeout?: string | undefined;
}
/** `POST /v1/prepare-jobs` for Liquibase. */
export const PrepareJobRequestLiquibase: z.ZodType<PrepareJobRequestLiquibase> = typed<
  PrepareJobRequestLiquibase
>()(LiquibaseRequestSchema);

/** `POST /v1/prepare-jobs` body. */
export type PrepareJobRequest = PrepareJobRequestPsql | PrepareJobRequestLiquibase;
/** `POST /v1/prepare-jobs` body. */
export const PrepareJobRequest: z.ZodType<PrepareJobRequest> = typed<PrepareJobRequest>()(
  z.discriminatedUnion("prepare_kind", [PsqlRequestSchema, LiquibaseRequestSchema]),
);

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
const TaskInputSchema = z.object({ kind: z.enum(["image", "state"]), id: z.string() });

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
      input: TaskInputSchema,
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
      input: TaskInputSchema,
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

// ---------------------------------------------------------------------------------------------------
// Inventory

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
  input: TaskInputSchema.nullable(),
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

/** Instance status: `expired` past its TTL, `orphaned` when no name points at it. */
export type InstanceStatusValue = "active" | "expired" | "orphaned";
/** Instance status: `expired` past its TTL, `orphaned` when no name points at it. */
export const InstanceStatusValue: z.ZodType<InstanceStatusValue> = typed<InstanceStatusValue>()(
  z.enum(["active", "expired", "orphaned"]),
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
  dsn: z.string(),
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

// ---------------------------------------------------------------------------------------------------
// Runs

/** One psql invocation of a run: its args and, optionally, what it reads on stdin. */
export interface RunStep {
  args: string[];
  stdin?: string | undefined;
}
const RunStepSchema = z.strictObject({ args: z.array(z.string()), stdin: z.string().optional() });

/** `POST /v1/runs` body as a client sends it: run psql or pgbench against an instance. */
export interface RunRequest {
  instance_ref: string;
  kind: "psql" | "pgbench";
  command?: string | null | undefined;
  /** Tool args (default none); with `steps`, each step carries its own. */
  args?: string[] | undefined;
  stdin?: string | undefined;
  steps?: RunStep[] | undefined;
  work_dir?: string | undefined;
  /** PostgreSQL's `statement_timeout` for the tool's sessions. */
  statement_timeout?: string | undefined;
}
/** `POST /v1/runs` body as the engine sees it after parsing (`args` defaulted). */
export type ParsedRunRequest = RunRequest & { args: string[] };
/** `POST /v1/runs`: run psql or pgbench against an instance. `steps` excludes `args`/`stdin`. */
export const RunRequest: z.ZodType<ParsedRunRequest, RunRequest> = typed<ParsedRunRequest, RunRequest>()(
  z.strictObject({
    instance_ref: z.string().min(1).max(1024),
    kind: z.enum(["psql", "pgbench"]),
    command: z.string().nullable().optional(),
    args: z.array(z.string()).default([]),
    stdin: z.string().optional(),
    steps: z.array(RunStepSchema).optional(),
    work_dir: z.string().optional(),
    statement_timeout: Duration.optional(),
  }),
);

/** One line of a run's NDJSON stream. `stdout`/`stderr` data is base64 so that any bytes survive. */
export interface RunEvent {
  type: "start" | "stdout" | "stderr" | "exit" | "error" | "log";
  ts: string;
  instance_id?: string | undefined;
  data?: string | undefined;
  exit_code?: number | undefined;
  error?: ErrorResponse | undefined;
}
/** One line of a run's NDJSON stream. `stdout`/`stderr` data is base64 so that any bytes survive. */
export const RunEvent: z.ZodType<RunEvent> = typed<RunEvent>()(z.object({
  type: z.enum(["start", "stdout", "stderr", "exit", "error", "log"]),
  ts: Timestamp,
  instance_id: z.string().optional(),
  data: z.string().optional(),
  exit_code: z.number().int().optional(),
  error: ErrorResponse.optional(),
}));

// ---------------------------------------------------------------------------------------------------
// Cache

/** What one eviction run did. */
export interface EvictionReport {
  completed_at: string;
  trigger: string;
  evicted_count: number;
  freed_bytes: number;
  blocked_count: number;
  usage_bytes_before: number;
  usage_bytes_after: number;
  free_bytes_before: number;
  free_bytes_after: number;
}
/** What one eviction run did. */
export const EvictionReport: z.ZodType<EvictionReport> = typed<EvictionReport>()(z.object({
  completed_at: Timestamp,
  trigger: z.string(),
  evicted_count: z.number().int(),
  freed_bytes: z.number().int(),
  blocked_count: z.number().int(),
  usage_bytes_before: z.number().int(),
  usage_bytes_after: z.number().int(),
  free_bytes_before: z.number().int(),
  free_bytes_after: z.number().int(),
}));

/** `GET /v1/cache/status`: the bounded cache's diagnostics. */
export interface CacheStatus {
  usage_bytes: number;
  configured_max_bytes: number | null;
  effective_max_bytes: number;
  reserve_bytes: number;
  high_watermark: number;
  low_watermark: number;
  min_state_age: string;
  store_total_bytes: number;
  store_free_bytes: number;
  state_count: number;
  reclaimable_bytes: number;
  blocked_count: number;
  pressure_reasons: string[];
  last_eviction: EvictionReport | null;
}
/** `GET /v1/cache/status`: the bounded cache's diagnostics. */
export const CacheStatus: z.ZodType<CacheStatus> = typed<CacheStatus>()(z.object({
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
}));

/** One step of a `cache explain` answer. */
export interface CacheExplainStep {
  task_id: string;
  input: string;
  output_state_id: string;
  decision: "hit" | "miss";
  /** For a miss: why, compared with the nearest cached state. */
  reason_code: "exact_state_match" | "not_kept" | "parent_changed" | "input_changed" | "no_matching_state";
  reason: string;
  nearest_state_id: string | null;
  changed_files: string[];
}
/** One step of a `cache explain` answer. */
export const CacheExplainStep: z.ZodType<CacheExplainStep> = typed<CacheExplainStep>()(z.object({
  task_id: z.string(),
  input: z.string(),
  output_state_id: StateId,
  decision: z.enum(["hit", "miss"]),
  reason_code: z.enum([
    "exact_state_match",
    "not_kept",
    "parent_changed",
    "input_changed",
    "no_matching_state",
  ]),
  reason: z.string(),
  nearest_state_id: StateId.nullable(),
  changed_files: z.array(z.string()),
}));

/** `POST /v1/cache/explain/prepare`: hit/miss per step without creating a job or an instance. */
export interface CacheExplain {
  decision: "hit" | "miss";
  image_id: string;
  resolved_image_id: string;
  final_state_id: string;
  steps: CacheExplainStep[];
}
/** `POST /v1/cache/explain/prepare`: hit/miss per step without creating a job or an instance. */
export const CacheExplain: z.ZodType<CacheExplain> = typed<CacheExplain>()(z.object({
  decision: z.enum(["hit", "miss"]),
  image_id: z.string(),
  resolved_image_id: z.string(),
  final_state_id: StateId,
  steps: z.array(CacheExplainStep),
}));
