/**
 * The engine's metadata on `node:sqlite` (WAL): bases, states, instances, names, jobs, tasks and
 * events. No SQL lives outside this folder; callers use named methods.
 *
 * @module
 */

import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import type { ServerHandle } from "../runtime/types.ts";
import type {
  JobStatusValue,
  PrepareJobEvent,
  PrepareJobResult,
  PreparePlanTask,
  TaskStatusValue,
} from "../../shared/schemas.ts";
import { migrate } from "./migrations.ts";
import {
  type BaseRow,
  type InstanceRow,
  type JobOutcome,
  type JobRow,
  type NameRow,
  now,
  type Row,
  type StateRow,
  type TaskRow,
  toInstance,
  toJob,
  toState,
} from "./rows.ts";
import { SqlrsError } from "../../shared/errors.ts";

export type {
  BaseRow,
  InstanceRow,
  JobOutcome,
  JobRow,
  NameRow,
  StateInputs,
  StateRow,
  TaskRow,
  UnkeptStep,
} from "./rows.ts";

const INSTANCE_SELECT =
  "SELECT i.*, (SELECT n.name FROM names n WHERE n.instance_id = i.instance_id ORDER BY n.name LIMIT 1) AS name FROM instances i";

/** What a job is recorded with when it is submitted. */
export type JobInsert = Pick<
  JobRow,
  "job_id" | "prepare_kind" | "image_id" | "plan_only" | "request" | "prepare_args_normalized"
>;

/** A job's plan as recorded: the image it resolved to, its signature and its tasks. */
export interface JobPlan {
  resolved_image_id: string;
  signature: string | null;
  tasks: PreparePlanTask[];
}

/** A finished job as retention sees it: when it ended, and whether a client read it. */
export interface RetentionCandidate {
  job_id: string;
  ended_at: string;
  collected_at: string | null;
}

/** The engine's metadata store. */
export class Registry {
  #db: DatabaseSync;
  #file: string;
  /**
   * Prepared statements by SQL text: preparing one costs more than running it, and a hand-out from
   * the pool runs a few dozen.
   */
  readonly #statements = new Map<string, StatementSync>();
  /** How deep {@link Registry.transaction} is nested (inner ones are savepoints). */
  #depth = 0;

  constructor(path: string) {
    this.#file = path;
    this.#db = new DatabaseSync(path);
    this.#db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    migrate(this.#db);
  }

  close(): void {
    this.#statements.clear();
    this.#db.close();
  }

  /**
   * Runs `fn` in one write transaction; nested in another, in a savepoint of it (its writes are undone
   * if `fn` throws, and committed with the outer transaction). `fn` must not await.
   * @throws the error of `fn` or of the commit (a full disk as an `unavailable` SqlrsError)
   */
  transaction<T>(fn: () => T): T {
    const savepoint = `nested_${this.#depth}`;
    const outer = this.#depth === 0;
    this.#db.exec(outer ? "BEGIN IMMEDIATE" : `SAVEPOINT ${savepoint}`);
    this.#depth++;
    try {
      const result = fn();
      this.#db.exec(outer ? "COMMIT" : `RELEASE ${savepoint}`);
      return result;
    } catch (error) {
      // After some errors (a full disk, an I/O error) SQLite has already rolled the transaction
      // back; a ROLLBACK then fails with "no transaction is active" and would hide the real error.
      if (this.#db.isTransaction) {
        this.#db.exec(outer ? "ROLLBACK" : `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`);
      }
      throw this.#storeError(error);
    } finally {
      this.#depth--;
    }
  }

  /** SQLite's error, with a full disk said plainly. */
  #storeError(error: unknown): unknown {
    if (!(error instanceof Error) || !/database or disk is full/i.test(error.message)) return error;
    return new SqlrsError(
      "unavailable",
      `The store's disk is full: cannot write ${this.#file} (${error.message}); free space on its ` +
        'filesystem, e.g. delete states with "sqlrs rm -r STATE"',
      { cause: error, details: { path: this.#file } },
    );
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#statement(sql).all(...params) as Row[];
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#statement(sql).get(...params) as Row | undefined;
  }

  #run(sql: string, ...params: SQLInputValue[]): number {
    try {
      return Number(this.#statement(sql).run(...params).changes);
    } catch (error) {
      throw this.#storeError(error);
    }
  }

  // -- bases ----------------------------------------------------------------------------------------

  getBase(storeDir: string): BaseRow | undefined {
    return this.#get("SELECT * FROM bases WHERE store_dir = ?", storeDir) as BaseRow | undefined;
  }

  listBases(): BaseRow[] {
    return this.#all("SELECT * FROM bases ORDER BY store_dir") as unknown as BaseRow[];
  }

  insertBase(base: Omit<BaseRow, "created_at">): void {
    this.#run(
      "INSERT INTO bases (store_dir, resolved_image_id, created_at) VALUES (?, ?, ?)",
      base.store_dir,
      base.resolved_image_id,
      now(),
    );
  }

  // -- states ---------------------------------------------------------------------------------------

  getState(stateId: string): StateRow | undefined {
    const row = this.#get("SELECT * FROM states WHERE state_id = ?", stateId);
    return row === undefined ? undefined : toState(row);
  }

  listStates(): StateRow[] {
    return this.#all("SELECT * FROM states ORDER BY created_at, state_id").map(toState);
  }

  /** States built on the same parent (`null` = on a base of `storeDir`). */
  siblingStates(parentStateId: string | null, storeDir: string): StateRow[] {
    const rows = parentStateId === null
      ? this.#all(
        "SELECT * FROM states WHERE parent_state_id IS NULL AND store_dir = ? ORDER BY created_at DESC",
        storeDir,
      )
      : this.#all("SELECT * FROM states WHERE parent_state_id = ? ORDER BY created_at DESC", parentStateId);
    return rows.map(toState);
  }

  insertState(state: Omit<StateRow, "created_at" | "last_used_at" | "use_count">): void {
    this.#run(
      `INSERT INTO states (state_id, parent_state_id, image_id, store_dir, prepare_kind, prepare_args_normalized,
         created_at, size_bytes, last_used_at, use_count, inputs_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, ?)`,
      state.state_id,
      state.parent_state_id,
      state.image_id,
      state.store_dir,
      state.prepare_kind,
      state.prepare_args_normalized,
      now(),
      state.size_bytes,
      state.inputs === null ? null : JSON.stringify(state.inputs),
    );
  }

  touchState(stateId: string): void {
    this.#run(
      "UPDATE states SET last_used_at = ?, use_count = use_count + 1 WHERE state_id = ?",
      now(),
      stateId,
    );
  }

  /** Records what a state holds on its own, measured again (after its parent was evicted). */
  setStateSize(stateId: string, sizeBytes: number): void {
    this.#run("UPDATE states SET size_bytes = ? WHERE state_id = ?", sizeBytes, stateId);
  }

  deleteState(stateId: string): void {
    this.#run("DELETE FROM states WHERE state_id = ?", stateId);
  }

  childStates(stateId: string): StateRow[] {
    return this.#all("SELECT * FROM states WHERE parent_state_id = ?", stateId).map(toState);
  }

  // -- instances ------------------------------------------------------------------------------------

  insertInstance(instance: Omit<InstanceRow, "created_at" | "name">): void {
    this.#run(
      `INSERT INTO instances (instance_id, state_id, image_id, image_json, server_json, instance_dir, job_id,
         created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      instance.instance_id,
      instance.state_id,
      instance.image_id,
      JSON.stringify(instance.image),
      JSON.stringify(instance.server),
      instance.instance_dir,
      instance.job_id,
      now(),
      instance.expires_at,
    );
  }

  getInstance(instanceId: string): InstanceRow | undefined {
    const row = this.#get(`${INSTANCE_SELECT} WHERE i.instance_id = ?`, instanceId);
    return row === undefined ? undefined : toInstance(row);
  }

  listInstances(): InstanceRow[] {
    return this.#all(`${INSTANCE_SELECT} ORDER BY i.created_at, i.instance_id`).map(toInstance);
  }

  instancesWithPrefix(prefix: string): InstanceRow[] {
    return this.#all(`${INSTANCE_SELECT} WHERE i.instance_id LIKE ? ORDER BY i.instance_id`, `${prefix}%`)
      .map(
        toInstance,
      );
  }

  updateInstanceServer(instanceId: string, server: ServerHandle): void {
    this.#run(
      "UPDATE instances SET server_json = ? WHERE instance_id = ?",
      JSON.stringify(server),
      instanceId,
    );
  }

  deleteInstance(instanceId: string): void {
    this.transaction(() => {
      this.#run("DELETE FROM names WHERE instance_id = ?", instanceId);
      this.#run("DELETE FROM instances WHERE instance_id = ?", instanceId);
    });
  }

  /** Instances whose TTL has passed. */
  expiredInstances(at: string): InstanceRow[] {
    return this.#all(`${INSTANCE_SELECT} WHERE i.expires_at IS NOT NULL AND i.expires_at < ?`, at).map(
      toInstance,
    );
  }

  /** Instances a job created (a job interrupted by a crash may have created one before it resumed). */
  instancesOfJob(jobId: string): InstanceRow[] {
    return this.#all(`${INSTANCE_SELECT} WHERE i.job_id = ?`, jobId).map(toInstance);
  }

  /**
   * Instances no client can be given: those of succeeded jobs that finished before `before` and whose
   * status no client has read, and any of a failed or cancelled job.
   */
  undeliveredInstances(before: string): InstanceRow[] {
    return this.#all(
      `${INSTANCE_SELECT} JOIN jobs j ON j.job_id = i.job_id
       WHERE j.status IN ('failed', 'cancelled')
          OR (j.status = 'succeeded' AND j.collected_at IS NULL AND j.finished_at < ?)`,
      before,
    ).map(toInstance);
  }

  instancesOfState(stateId: string): InstanceRow[] {
    return this.#all(`${INSTANCE_SELECT} WHERE i.state_id = ?`, stateId).map(toInstance);
  }

  // -- names ----------------------------------------------------------------------------------------

  getName(name: string): NameRow | undefined {
    return this.#get("SELECT * FROM names WHERE name = ?", name) as NameRow | undefined;
  }

  listNames(): NameRow[] {
    return this.#all("SELECT * FROM names ORDER BY name") as unknown as NameRow[];
  }

  bindName(name: Omit<NameRow, "created_at" | "last_used_at">): void {
    this.#run(
      `INSERT INTO names (name, instance_id, state_id, image_id, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, NULL)
       ON CONFLICT(name) DO UPDATE SET instance_id = excluded.instance_id, state_id = excluded.state_id,
         image_id = excluded.image_id, created_at = excluded.created_at, last_used_at = NULL`,
      name.name,
      name.instance_id,
      name.state_id,
      name.image_id,
      now(),
    );
  }

  /** The job that holds `name` until it binds it, if any. */
  nameReservation(name: string): string | undefined {
    return this.#get("SELECT job_id FROM name_reservations WHERE name = ?", name)?.job_id as
      | string
      | undefined;
  }

  /** Records that `jobId` will bind `name`; the primary key makes a second holder fail. */
  reserveName(name: string, jobId: string): void {
    this.#run("INSERT INTO name_reservations (name, job_id) VALUES (?, ?)", name, jobId);
  }

  releaseNames(jobId: string): void {
    this.#run("DELETE FROM name_reservations WHERE job_id = ?", jobId);
  }

  touchName(name: string): void {
    this.#run("UPDATE names SET last_used_at = ? WHERE name = ?", now(), name);
  }

  // -- jobs, tasks, events --------------------------------------------------------------------------

  insertJob(job: JobInsert): void {
    this.#insertJobRow(job, null);
  }

  /**
   * Records a job that succeeded as it was submitted (a hand-out from the pool): its row, already
   * finished (and collected, when its status is read at once), and its plan's tasks in their final
   * statuses.
   */
  insertFinishedJob(
    job: JobInsert,
    plan: JobPlan,
    outcome: { result: PrepareJobResult; collected: boolean },
    statusOf: (task: PreparePlanTask) => TaskStatusValue,
  ): void {
    this.transaction(() => {
      this.#insertJobRow(job, { plan, ...outcome });
      this.#insertTasks(job.job_id, plan.tasks, statusOf);
    });
  }

  /** A job's row: queued, or (`finished`) succeeded with its plan and result. */
  #insertJobRow(
    job: JobInsert,
    finished: { plan: JobPlan; result: PrepareJobResult; collected: boolean } | null,
  ): void {
    const at = now();
    this.#run(
      `INSERT INTO jobs (job_id, status, prepare_kind, image_id, resolved_image_id, plan_only, request_json,
         prepare_args_normalized, signature, result_json, created_at, started_at, finished_at, collected_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      job.job_id,
      finished === null ? "queued" : "succeeded",
      job.prepare_kind,
      job.image_id,
      finished?.plan.resolved_image_id ?? null,
      job.plan_only ? 1 : 0,
      JSON.stringify(job.request),
      job.prepare_args_normalized,
      finished?.plan.signature ?? null,
      finished === null ? null : JSON.stringify(finished.result),
      at,
      finished === null ? null : at,
      finished === null ? null : at,
      finished?.collected === true ? at : null,
    );
  }

  getJob(jobId: string): JobRow | undefined {
    const row = this.#get("SELECT * FROM jobs WHERE job_id = ?", jobId);
    return row === undefined ? undefined : toJob(row);
  }

  listJobs(): JobRow[] {
    return this.#all("SELECT * FROM jobs ORDER BY created_at, job_id").map(toJob);
  }

  jobsWithStatus(...statuses: JobStatusValue[]): JobRow[] {
    const marks = statuses.map(() => "?").join(", ");
    return this.#all(`SELECT * FROM jobs WHERE status IN (${marks}) ORDER BY created_at`, ...statuses).map(
      toJob,
    );
  }

  markJobRunning(jobId: string): void {
    this.#run(
      "UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, ?) WHERE job_id = ?",
      now(),
      jobId,
    );
  }

  /** Records the first read of a finished job's status. */
  markJobCollected(jobId: string): void {
    this.#run(
      `UPDATE jobs SET collected_at = ? WHERE job_id = ? AND collected_at IS NULL
       AND status IN ('succeeded', 'failed', 'cancelled')`,
      now(),
      jobId,
    );
  }

  requeueJob(jobId: string): void {
    this.#run("UPDATE jobs SET status = 'queued' WHERE job_id = ?", jobId);
  }

  /** Records a job's plan: its image, its signature and its tasks, each `queued`. */
  setJobPlan(jobId: string, plan: JobPlan): void {
    this.transaction(() => {
      this.#run(
        "UPDATE jobs SET resolved_image_id = ?, signature = ? WHERE job_id = ?",
        plan.resolved_image_id,
        plan.signature,
        jobId,
      );
      this.#run("DELETE FROM tasks WHERE job_id = ?", jobId);
      this.#insertTasks(jobId, plan.tasks, () => "queued");
    });
  }

  #insertTasks(
    jobId: string,
    tasks: readonly PreparePlanTask[],
    statusOf: (task: PreparePlanTask) => TaskStatusValue,
  ): void {
    tasks.forEach((task, position) => {
      this.#run(
        "INSERT INTO tasks (job_id, position, task_id, status, task_json) VALUES (?, ?, ?, ?, ?)",
        jobId,
        position,
        task.task_id,
        statusOf(task),
        JSON.stringify(task),
      );
    });
  }

  setTaskStatus(jobId: string, taskId: string, status: TaskStatusValue): void {
    this.#run("UPDATE tasks SET status = ? WHERE job_id = ? AND task_id = ?", status, jobId, taskId);
  }

  listTasks(jobId?: string): TaskRow[] {
    const rows = jobId === undefined
      ? this.#all("SELECT * FROM tasks ORDER BY job_id, position")
      : this.#all("SELECT * FROM tasks WHERE job_id = ? ORDER BY position", jobId);
    return rows.map((row) => ({
      job_id: row.job_id as string,
      position: Number(row.position),
      status: row.status as TaskStatusValue,
      task: JSON.parse(row.task_json as string),
    }));
  }

  finishJob(jobId: string, outcome: JobOutcome): void {
    this.#run(
      "UPDATE jobs SET status = ?, result_json = ?, error_json = ?, finished_at = ? WHERE job_id = ?",
      outcome.status,
      outcome.status === "succeeded" && outcome.result !== null ? JSON.stringify(outcome.result) : null,
      outcome.status === "succeeded" ? null : JSON.stringify(outcome.error),
      now(),
      jobId,
    );
  }

  /**
   * The finished jobs with this signature but the newest `skip` (by finish time, then creation), each
   * with when it ended and whether a client read it: what retention may delete.
   */
  olderFinishedJobs(signature: string, skip: number): RetentionCandidate[] {
    return this.#all(
      `SELECT job_id, COALESCE(finished_at, created_at) AS ended_at, collected_at FROM jobs
       WHERE signature = ? AND status IN ('succeeded', 'failed', 'cancelled')
       ORDER BY COALESCE(finished_at, created_at) DESC, created_at DESC LIMIT -1 OFFSET ?`,
      signature,
      skip,
    ) as unknown as RetentionCandidate[];
  }

  deleteJob(jobId: string): void {
    this.transaction(() => {
      this.#run("DELETE FROM events WHERE job_id = ?", jobId);
      this.#run("DELETE FROM tasks WHERE job_id = ?", jobId);
      this.#run("DELETE FROM name_reservations WHERE job_id = ?", jobId);
      this.#run("DELETE FROM jobs WHERE job_id = ?", jobId);
    });
  }

  /** Appends an event and returns its sequence number (0-based). */
  appendEvent(jobId: string, event: PrepareJobEvent): number {
    try {
      const row = this.#statement(
        `INSERT INTO events (job_id, seq, event_json)
         SELECT ?, COALESCE(MAX(seq) + 1, 0), ? FROM events WHERE job_id = ? RETURNING seq`,
      ).get(jobId, JSON.stringify(event), jobId);
      return Number(row?.seq);
    } catch (error) {
      throw this.#storeError(error);
    }
  }

  /** Events with `from <= seq < to`. */
  events(jobId: string, from: number, to = Number.MAX_SAFE_INTEGER): PrepareJobEvent[] {
    return this.#all(
      "SELECT event_json FROM events WHERE job_id = ? AND seq >= ? AND seq < ? ORDER BY seq",
      jobId,
      from,
      to,
    ).map((row) => JSON.parse(row.event_json as string));
  }

  eventCount(jobId: string): number {
    return Number(this.#get("SELECT COUNT(*) AS n FROM events WHERE job_id = ?", jobId)?.n ?? 0);
  }

  setJobOwner(jobId: string, owner: string): void {
    this.#run("INSERT OR REPLACE INTO job_owners (job_id, owner) VALUES (?, ?)", jobId, owner);
  }

  /** The team user who submitted a job, if any (jobs of a local engine have none). */
  jobOwner(jobId: string): string | undefined {
    return this.#get("SELECT owner FROM job_owners WHERE job_id = ?", jobId)?.owner as string | undefined;
  }

  getMeta(key: string): string | undefined {
    return this.#get("SELECT value FROM meta WHERE key = ?", key)?.value as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.#run(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }

  counts(): { states: number; instances: number; jobs: number } {
    const count = (table: string) => Number(this.#get(`SELECT COUNT(*) AS n FROM ${table}`)?.n ?? 0);
    return { states: count("states"), instances: count("instances"), jobs: count("jobs") };
  }
}
