/**
 * The snapshot backend contract: how states and clones of a data directory are made.
 *
 * Paths are absolute. A state path is the data directory itself; a clone is a directory owned by the
 * backend whose data directory {@link StateFS.clone} hands over as a {@link Volume} (it differs from the
 * clone path for overlay). A runtime runs servers only on such volumes.
 */

import type { SnapshotBackend } from "../../shared/snapshot_backends.ts";

/** The snapshot backends sqlrs knows (named in `shared/snapshot_backends.ts`). */
export type StateFSKind = SnapshotBackend;

/** Whether a backend can work on a store, and why (or why not): one line for `sqlrs status`. */
export interface StateFSAvailability {
  available: boolean;
  detail: string;
}

/** What a backend does here and why it was chosen, as shown by `sqlrs status`. */
export interface StateFSDescription {
  kind: StateFSKind;
  /** One line: how clones are made on this store (e.g. "reflink copies (btrfs)"). */
  detail: string;
}

declare const handedOver: unique symbol;

/**
 * A data directory a StateFS handed over for a server to run on: made only by a backend (`createEmpty`,
 * `clone`, `adopt`, `reattach`, through `volume.ts`), so that a runtime is never given an arbitrary
 * path by accident. A runtime reads `path`; a server's handle records it as its `dataDir`.
 */
export interface Volume {
  /** The data directory, absolute. */
  readonly path: string;
  readonly [handedOver]: true;
}

/** Hints for {@link StateFS.snapshot}. */
export interface SnapshotOptions {
  /**
   * An immutable state or base whose content `src` had before the step wrote to it (the step's input).
   * A file of `src` that still matches the same file of `previous` (same size, mode and mtime: nothing
   * wrote it since) may be shared with it instead of copied.
   */
  previous?: string;
}

/** How full a filesystem is. */
export interface FilesystemUsage {
  totalBytes: number;
  freeBytes: number;
}

/** A snapshot backend. */
export interface StateFS {
  readonly kind: StateFSKind;
  describe(): Promise<StateFSDescription>;
  /**
   * Creates an empty directory at `path` that can later be snapshotted (a subvolume on btrfs); resolves
   * with it as the volume a runtime fills (`Runtime.initBase`).
   */
  createEmpty(path: string): Promise<Volume>;
  /**
   * Makes an immutable, durable copy of the stopped data directory `src` at `dst`, which must not exist.
   * When it resolves, the copy survives a power loss.
   */
  snapshot(src: string, dst: string, options?: SnapshotOptions): Promise<void>;
  /**
   * Makes durable what was written under `path` without syncing (initdb --no-sync): one syncfs(2) of
   * its filesystem, which is cheaper than an fsync of each file.
   */
  flush(path: string): Promise<void>;
  /**
   * Gives the state or base built at `building` (a snapshot or a filled `createEmpty` of this backend,
   * under a temporary name: see `tempSibling`) its final name `path`, atomically and durably.
   * @throws {SqlrsError} `conflict` when `path` exists
   */
  publish(building: string, path: string): Promise<void>;
  /** Makes a writable clone of the state or base at `src` under `dst`; resolves with its data directory. */
  clone(src: string, dst: string): Promise<Volume>;
  /**
   * Optional: moves the clone at `clone` (the path `clone()` was given) to `dst`, which must not exist,
   * and resolves with its data directory, as `clone(src, dst)` would have for a state with its content.
   * Backends whose clones are plain directories or subvolumes have it (a rename): a build area that
   * ends with the final state's content becomes the instance without a second copy of the data.
   */
  adopt?(clone: string, dst: string): Promise<Volume>;
  /**
   * The volume of a clone this backend made earlier, from the data directory recorded for it (`clone`'s
   * or `adopt`'s `path`): for restarting an instance's server after the engine or the machine restarted.
   */
  reattach(dataDir: string): Promise<Volume>;
  /** Removes a clone, a state or a base made by this backend. Idempotent. */
  remove(path: string): Promise<void>;
  /**
   * The bytes a state, base or clone at `path` really holds on its own: what it holds that `parent` (the
   * state or base it was built from, when it still exists) does not share with it. Summed over a chain of
   * states, this counts every shared byte once, so the sum is what the chain occupies on disk.
   * Without `parent`, everything `path` holds that is not shared with another file (hard links once).
   * @throws {SqlrsError} `not_found` when `path` does not exist
   */
  ownBytes(path: string, parent?: string): Promise<number>;
  /** The size of the filesystem that holds `path` and the bytes free on it (what the cache may fill). */
  usage(path: string): Promise<FilesystemUsage>;
  /**
   * Removes what a crash left under `root` (mounts, subvolumes, temporary copies). Mounts at or under
   * a path that `keep` accepts (the clones of live instances) are left alone.
   */
  recover(root: string, keep?: (path: string) => boolean): Promise<void>;
}
