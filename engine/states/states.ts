/**
 * States as the engine keeps them: a directory made by the snapshot backend plus a registry row. This
 * is the only code that pairs the two: it publishes a state (snapshot under a temporary name, admit
 * its size, name it, record it), judges whether a recorded one is complete, removes one (the directory,
 * then the row, then re-measures its children), and says how much the states use.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import type { Registry, StateRow } from "../registry/registry.ts";
import type { FilesystemUsage, StateFS } from "../statefs/types.ts";
import { tempSibling } from "../statefs/publish.ts";
import type { StoreLayout } from "../store_layout.ts";
import { SqlrsError } from "../../shared/errors.ts";
import { randomHex } from "../../shared/random.ts";
import { StateLeases } from "./leases.ts";

/** A state to publish: its row without what the registry fills in, or what publishing measures. */
export type NewState = Omit<StateRow, "created_at" | "last_used_at" | "use_count" | "size_bytes">;

/** How full the cache of states is. */
export interface StatesUsage extends FilesystemUsage {
  /** The sum of the states' own bytes (see `StateFS.ownBytes`). */
  usedBytes: number;
}

/** Name prefix of a state directory discarded while live instances still use it. */
const DISCARDED = ".discarded-";

/** The subdirectories of `dir` (none when it does not exist). */
async function subdirectories(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).filter((entry) => entry.isDirectory).map((entry) =>
      join(dir, entry.name)
    );
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** Whether a state's data directory was cleanly shut down: PG_VERSION there, postmaster.pid not. */
function isCleanDataDirectory(path: string): boolean {
  try {
    if (!Deno.statSync(join(path, "PG_VERSION")).isFile) return false;
  } catch {
    return false;
  }
  try {
    // A clean shutdown removes postmaster.pid; its presence means the state was taken from a live server.
    Deno.statSync(join(path, "postmaster.pid"));
    return false;
  } catch {
    return true;
  }
}

function isConflict(error: unknown): error is SqlrsError {
  return error instanceof SqlrsError && error.code === "conflict";
}

/** Builds, finds, removes and measures states. */
export class States {
  readonly #registry: Registry;
  readonly #layout: StoreLayout;
  readonly #statefs: StateFS;
  /** What running jobs still need: never evicted nor deleted. */
  readonly leases = new StateLeases();

  constructor(deps: { registry: Registry; layout: StoreLayout; statefs: StateFS }) {
    this.#registry = deps.registry;
    this.#layout = deps.layout;
    this.#statefs = deps.statefs;
  }

  /** The directory of a state of the PostgreSQL build whose store directory is `storeDir`. */
  path(storeDir: string, stateId: string): string {
    return this.#layout.stateDir(storeDir, stateId);
  }

  /** Whether a state is recorded and complete on disk: what `plan` reports as cached. */
  isComplete(stateId: string): boolean {
    const row = this.#registry.getState(stateId);
    return row !== undefined && isCleanDataDirectory(this.path(row.store_dir, stateId));
  }

  /** Whether a complete state exists; a recorded but incomplete one is discarded so it gets rebuilt. */
  async ensureReady(stateId: string): Promise<boolean> {
    if (this.isComplete(stateId)) return true;
    const row = this.#registry.getState(stateId);
    if (row === undefined) return false;
    const path = this.path(row.store_dir, stateId);
    try {
      await this.#statefs.remove(path);
    } catch (error) {
      if (!isConflict(error)) throw error;
      // Clones of live instances use it as their lower layer (overlay), so it cannot go yet: moved
      // aside, where they keep working on it, and removed once no instance of the state is left.
      await Deno.rename(path, join(dirname(path), `${DISCARDED}${stateId}-${randomHex(4)}`));
    }
    this.#registry.deleteState(stateId);
    return false;
  }

  /** Removes the states discarded while live instances used them (see ensureReady) that none uses now. */
  async removeDiscarded(): Promise<void> {
    for (const engine of await subdirectories(join(this.#layout.root, "engines"))) {
      for (const version of await subdirectories(engine)) {
        for (const dir of await subdirectories(join(version, "states"))) {
          const name = basename(dir);
          if (!name.startsWith(DISCARDED)) continue;
          const stateId = name.slice(DISCARDED.length, DISCARDED.length + 64);
          if (this.#registry.instancesOfState(stateId).length === 0) await this.#statefs.remove(dir);
        }
      }
    }
  }

  /**
   * Publishes the stopped data directory `dataDir` as `state`: a snapshot under a temporary name,
   * `admit`ted by its own bytes (what it does not share with `previous`, the state or base the build
   * started from), renamed into place and recorded. Resolves with its size. `onSnapshot` is called once
   * the snapshot is made (the caller's timing line tells the snapshot from the rest).
   *
   * @throws what `admit` throws (the snapshot is removed then)
   */
  async publish(
    state: NewState,
    dataDir: string,
    options: { previous: string; admit(bytes: number): Promise<void>; onSnapshot?: () => void },
  ): Promise<number> {
    const statefs = this.#statefs;
    const path = this.path(state.store_dir, state.state_id);
    await Deno.mkdir(this.#layout.statesDir(state.store_dir), { recursive: true });
    // An incomplete directory of an unrecorded state (see ensureReady) is rebuilt.
    await statefs.remove(path);
    const building = tempSibling(path);
    await statefs.snapshot(dataDir, building, { previous: options.previous });
    options.onSnapshot?.();
    let sizeBytes: number;
    try {
      sizeBytes = await statefs.ownBytes(building, options.previous);
      await options.admit(sizeBytes);
      await statefs.publish(building, path);
    } catch (error) {
      await statefs.remove(building);
      throw error;
    }
    this.#registry.insertState({ ...state, size_bytes: sizeBytes });
    return sizeBytes;
  }

  /**
   * Removes a state: its directory, its row, and re-measures its children, which now hold alone what
   * they shared with it.
   * @throws {SqlrsError} `conflict` when the backend refuses now (an overlay clone is mounted on it)
   */
  async remove(state: StateRow): Promise<void> {
    await this.#statefs.remove(this.path(state.store_dir, state.state_id));
    this.#registry.deleteState(state.state_id);
    const ancestor = this.#nearestAncestorDir(state);
    for (const child of this.#registry.childStates(state.state_id)) {
      const bytes = await this.#statefs.ownBytes(this.path(child.store_dir, child.state_id), ancestor);
      this.#registry.setStateSize(child.state_id, bytes);
    }
  }

  /** {@link remove}, but false instead of a `conflict` when the backend refuses now. */
  async tryRemove(state: StateRow): Promise<boolean> {
    try {
      await this.remove(state);
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  /** The states' own bytes in all, and how full the store's filesystem is. */
  async usage(): Promise<StatesUsage> {
    const disk = await this.#statefs.usage(this.#layout.root);
    const usedBytes = this.#registry.listStates().reduce((sum, state) => sum + (state.size_bytes ?? 0), 0);
    return { ...disk, usedBytes };
  }

  /**
   * The directory of the nearest ancestor of `state` that is still in the store, else its base. Removed
   * states leave their children's `parent_state_id` as it was (a rebuild restores the link), so a chain
   * with a gap falls back to the base: the children are then counted in full, never too little.
   */
  #nearestAncestorDir(state: StateRow): string {
    const parent = state.parent_state_id === null
      ? undefined
      : this.#registry.getState(state.parent_state_id);
    return parent === undefined
      ? this.#layout.baseDir({ storeDir: state.store_dir })
      : this.path(parent.store_dir, parent.state_id);
  }
}
