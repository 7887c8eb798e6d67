/**
 * Who may read the state dir and the store: their owner only. Other local users must not read the
 * registry (it holds every instance's DSN), the config, the token, the logs or any state's files.
 *
 * PostgreSQL's unprivileged server user must still reach the data directories of jobs and instances
 * below the store, so directories on that way are traverse-only for others (0711: no listing), and
 * every file the engine creates is 0600: the engine runs with umask 066. `engines/`, which holds the
 * bases and states, is the engine's alone (0700): a server, and so a superuser of an instance with
 * `COPY … TO PROGRAM`, cannot reach a cached state by its path to change it (clones are made by the
 * engine; an overlay mount reads its lower layers with the engine's rights). When the engine is not
 * root its servers run as its own user, and only a btrfs store's read-only snapshots keep states
 * immutable. A store made by an older version is tightened on start.
 *
 * @module
 */

import { join } from "node:path";
import type { SqlrsPaths } from "../../shared/paths.ts";

/** The engine's umask: no read or write for group and others; traversal stays possible. */
export const ENGINE_UMASK = 0o066;

/** Directories that lead to data directories the server user must reach: traverse-only for others. */
const TRAVERSE_ONLY = 0o711;
/** Directories only the engine enters. */
const ENGINE_ONLY = 0o700;
const OWNER_ONLY_FILE = 0o600;

async function chmodIfExists(path: string, mode: number): Promise<void> {
  try {
    await Deno.chmod(path, mode);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Sets the engine's umask and tightens what an older version left open: the state dir, the store,
 * `jobs/` and `instances/` become 0711, `engines/` and the logs 0700, the registry and config 0600.
 * Data directories themselves are PostgreSQL's (0700) and left alone.
 */
export async function tightenStore(paths: SqlrsPaths): Promise<void> {
  Deno.umask(ENGINE_UMASK);
  const store = paths.storeRoot;
  for (const dir of [paths.stateDir, store, join(store, "jobs"), join(store, "instances")]) {
    await chmodIfExists(dir, TRAVERSE_ONLY);
  }
  await Deno.mkdir(join(store, "engines"), { recursive: true, mode: ENGINE_ONLY });
  await Deno.chmod(join(store, "engines"), ENGINE_ONLY);
  for (const file of ["state.db", "state.db-wal", "state.db-shm", "config.json"]) {
    await chmodIfExists(join(store, file), OWNER_ONLY_FILE);
  }
  await chmodIfExists(paths.logDir, ENGINE_ONLY);
  await chmodIfExists(join(paths.logDir, "engine.log"), OWNER_ONLY_FILE);
  await chmodIfExists(paths.engineFile, OWNER_ONLY_FILE);
}
