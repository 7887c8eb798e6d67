/**
 * The instance a library `prepare()` returns: its identity, runs against it, and its deletion when it
 * is disposed of.
 *
 * @module
 */

import { ApiError } from "./engine_client.ts";
import { type InstanceRunOptions, type RunResult, runToolIn } from "./run_tool.ts";
import type { ClientOptions, Session } from "./session.ts";
import { SqlrsError } from "../shared/errors.ts";
import type { FinishedJob } from "./prepare_job.ts";
import type { UploadStats } from "./sources/upload.ts";

/**
 * A running instance from `prepare()`. Disposing of it (`await using`) deletes the instance; the
 * state it was cloned from stays cached.
 *
 * @example
 * ```ts
 * import { prepare } from "@sqlrs/sqlrs";
 * await using db = await prepare({ psql: ["-c", "create table t(id int)"] });
 * console.log(db.dsn, db.instanceId, db.stateId, db.jobId);
 * ```
 */
export interface PreparedInstance extends AsyncDisposable {
  /**
   * `postgres://sqlrs_<instance id>:<password>@127.0.0.1:<port>/postgres`: the instance's own role, which
   * no other instance accepts.
   */
  readonly dsn: string;
  /** The instance's 32-hex id (also usable by prefix in the CLI: `sqlrs run:psql --instance`). */
  readonly instanceId: string;
  /** The state the instance was cloned from (a 64-hex content hash). */
  readonly stateId: string;
  /** The prepare job that made it. */
  readonly jobId: string;
  /** The PostgreSQL build the state belongs to (e.g. `host:15`). */
  readonly imageId: string;
  /** The name bound to the instance, if any. */
  readonly name: string | null;
  /** With `uploadSources`: the files and bytes this prepare uploaded (0 when the engine had them all). */
  readonly uploaded: UploadStats | undefined;
  /** Runs psql or pgbench against this instance; see `run()`. */
  run(options?: InstanceRunOptions): Promise<RunResult>;
  /**
   * Returns the instance to the state it was prepared from, discarding every change: same instance id,
   * name, port and credentials, so {@link PreparedInstance.dsn} stays valid (open connections are
   * closed). Uses a warm instance of the state when the engine's pool has one.
   */
  reset(): Promise<void>;
  /** Deletes the instance now (open connections are terminated); later calls do nothing. */
  delete(): Promise<void>;
}

/** A {@link PreparedInstance} from the status of the job that made it. */
export class Prepared implements PreparedInstance {
  readonly dsn: string;
  readonly instanceId: string;
  readonly stateId: string;
  readonly jobId: string;
  readonly imageId: string;
  readonly name: string | null;
  readonly uploaded: UploadStats | undefined;
  readonly #options: ClientOptions;
  /** Opens the session its later calls use: a new one, or the library session that made it. */
  readonly #connect: () => Promise<Session>;
  #deleted: Promise<void> | undefined;

  constructor({ status, upload }: FinishedJob, options: ClientOptions, connect: () => Promise<Session>) {
    const result = status.result;
    if (result === null) {
      throw new SqlrsError("internal_error", `Job ${status.job_id} succeeded without a result`);
    }
    this.dsn = result.dsn;
    this.instanceId = result.instance_id;
    this.stateId = result.state_id;
    this.jobId = status.job_id;
    this.imageId = result.image_id;
    this.name = result.name;
    this.uploaded = upload;
    this.#options = options;
    this.#connect = connect;
  }

  async run(options: InstanceRunOptions = {}): Promise<RunResult> {
    using session = await this.#connect();
    return await runToolIn(session, { ...this.#options, ...options, instance: this.instanceId });
  }

  async reset(): Promise<void> {
    using session = await this.#connect();
    await session.client.resetInstance(this.instanceId);
  }

  delete(): Promise<void> {
    this.#deleted ??= (async () => {
      // Without a library session, a fresh connection: the engine that made it may have idled out since.
      using session = await this.#connect();
      try {
        await session.client.delete("instances", this.instanceId, { force: true });
      } catch (error) {
        if (!(error instanceof ApiError && error.code === "not_found")) throw error;
      }
    })();
    return this.#deleted;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.delete();
  }
}
