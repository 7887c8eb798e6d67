/**
 * The metadata schema, as an ordered list of forward migrations. `PRAGMA user_version` records how
 * many have run; a store written by a newer sqlrs (a higher version) is refused.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { SqlrsError } from "../../shared/errors.ts";

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE bases (
    store_dir TEXT PRIMARY KEY,
    resolved_image_id TEXT NOT NULL,
    password TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE states (
    state_id TEXT PRIMARY KEY,
    parent_state_id TEXT,
    image_id TEXT NOT NULL,
    store_dir TEXT NOT NULL,
    prepare_kind TEXT NOT NULL,
    prepare_args_normalized TEXT NOT NULL,
    created_at TEXT NOT NULL,
    size_bytes INTEGER,
    last_used_at TEXT,
    use_count INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX states_parent ON states(parent_state_id);
  CREATE TABLE instances (
    instance_id TEXT PRIMARY KEY,
    state_id TEXT NOT NULL,
    image_id TEXT NOT NULL,
    image_json TEXT NOT NULL,
    server_json TEXT NOT NULL,
    instance_dir TEXT NOT NULL,
    job_id TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT
  );
  CREATE INDEX instances_state ON instances(state_id);
  CREATE TABLE names (
    name TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    state_id TEXT NOT NULL,
    image_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT
  );
  CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    prepare_kind TEXT NOT NULL,
    image_id TEXT NOT NULL,
    resolved_image_id TEXT,
    plan_only INTEGER NOT NULL,
    request_json TEXT NOT NULL,
    prepare_args_normalized TEXT NOT NULL,
    signature TEXT,
    result_json TEXT,
    error_json TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
  );
  CREATE TABLE tasks (
    job_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    task_id TEXT NOT NULL,
    status TEXT NOT NULL,
    task_json TEXT NOT NULL,
    PRIMARY KEY (job_id, task_id)
  );
  CREATE TABLE events (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event_json TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
  );
  `,
  // What each state was built from, so that `cache explain` can say which input changed; and a
  // small key-value table for engine facts that outlive a process (the last eviction).
  `
  ALTER TABLE states ADD COLUMN inputs_json TEXT;
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `,
  // When a client first read a finished job's status (retention and instance delivery hang on it),
  // and names held by jobs that have not bound them yet (a name binds atomically at submit).
  `
  ALTER TABLE jobs ADD COLUMN collected_at TEXT;
  CREATE TABLE name_reservations (name TEXT PRIMARY KEY, job_id TEXT NOT NULL);
  `,
  // Bases no longer have a superuser password (each instance gets its own role): the old ones go.
  `
  ALTER TABLE bases DROP COLUMN password;
  `,
  // The team user who submitted each job (a team engine, engine/team/); its instance and the name
  // bound to it are that user's. Kept after the job is deleted: the instance may outlive it.
  `
  CREATE TABLE job_owners (job_id TEXT PRIMARY KEY, owner TEXT NOT NULL);
  `,
];

/** The schema version this build writes. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/**
 * Brings the database up to {@link SCHEMA_VERSION}, one transaction per migration.
 * @throws {SqlrsError} when the store was written by a newer sqlrs
 */
export function migrate(db: DatabaseSync): void {
  const row = db.prepare("PRAGMA user_version").get() as { user_version: number };
  const current = row.user_version;
  if (current > SCHEMA_VERSION) {
    throw new SqlrsError(
      "unavailable",
      `Cannot open the sqlrs store: its schema version ${current} is newer than this sqlrs supports (${SCHEMA_VERSION}); upgrade sqlrs`,
    );
  }
  for (let version = current; version < SCHEMA_VERSION; version++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(MIGRATIONS[version] ?? "");
      db.exec(`PRAGMA user_version = ${version + 1}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
}
