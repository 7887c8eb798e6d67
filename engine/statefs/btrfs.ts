/**
 * The `btrfs` snapshot backend: the base and every clone are subvolumes, a state is a read-only
 * snapshot, a clone a writable one. Both are O(1) in the size of the data and take no space up front.
 *
 * @module
 */

import { dirname } from "node:path";
import { run, runOk } from "../exec.ts";
import { notFound, SqlrsError } from "../../shared/errors.ts";
import type { StateFS } from "./types.ts";
import {
  copyTree,
  discard,
  ensureParent,
  fsyncDirectory,
  pathExists,
  refuseExisting,
  removeLeftovers,
  requireDirectory,
  syncFilesystem,
  tempSibling,
} from "./copy.ts";

/** The inode number of every subvolume root on btrfs (BTRFS_FIRST_FREE_OBJECTID). */
const SUBVOLUME_ROOT_INODE = 256;

/** Whether `path` is the root of a btrfs subvolume (the caller knows it is on btrfs). */
export async function isSubvolume(path: string): Promise<boolean> {
  try {
    const info = await Deno.lstat(path);
    return info.isDirectory && info.ino === SUBVOLUME_ROOT_INODE;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function isReadOnly(path: string): Promise<boolean> {
  const result = await run(["btrfs", "property", "get", "-ts", path, "ro"]);
  return result.code === 0 && result.stdout.trim() === "ro=true";
}

async function deleteSubvolume(path: string): Promise<void> {
  const argv = ["btrfs", "subvolume", "delete", path];
  const result = await run(argv);
  if (result.code === 0) return;
  // Root may delete a read-only subvolume, but a user with user_subvol_rm_allowed may not.
  if (await isReadOnly(path)) {
    await runOk(["btrfs", "property", "set", "-ts", path, "ro", "false"]);
    await runOk(argv);
    return;
  }
  if (!(await pathExists(path))) return;
  await runOk(argv);
}

async function remove(path: string): Promise<void> {
  if (await isSubvolume(path)) await deleteSubvolume(path);
  // Not --one-file-system: every subvolume has its own device number.
  else await runOk(["rm", "-rf", "--", path]);
}

/**
 * Makes `dst` a new subvolume holding a reflink copy of `src`, for sources that are plain directories
 * (a snapshot of one is impossible). The copy is made under a temporary name and renamed: a subvolume
 * that is read-only can still be renamed within its directory (not moved to another one: EROFS).
 */
async function copyIntoSubvolume(src: string, dst: string, readOnly: boolean): Promise<void> {
  const tmp = tempSibling(dst);
  try {
    await runOk(["btrfs", "subvolume", "create", tmp]);
    await copyTree(src, tmp);
    if (readOnly) {
      await runOk(["btrfs", "property", "set", "-ts", tmp, "ro", "true"]);
      // A transaction commit alone does not wait for delalloc data; `filesystem sync` flushes it first.
      await runOk(["btrfs", "filesystem", "sync", tmp]);
    }
    await refuseExisting(dst, readOnly ? "snapshot" : "clone");
    await Deno.rename(tmp, dst);
  } catch (error) {
    await discard(tmp, remove);
    throw error;
  }
  if (readOnly) await fsyncDirectory(dirname(dst));
}

/** Exclusive bytes of a subvolume from its qgroup, or undefined when quotas are off. */
async function qgroupExclusive(path: string): Promise<number | undefined> {
  const result = await run(["btrfs", "qgroup", "show", "-f", "--raw", "--sync", path]);
  if (result.code !== 0) return undefined;
  for (const line of result.stdout.split("\n")) {
    const [id, , exclusive] = line.trim().split(/\s+/);
    if (id?.startsWith("0/") && exclusive !== undefined && /^\d+$/.test(exclusive)) return Number(exclusive);
  }
  return undefined;
}

/** Bytes in extents that no other file shares (`btrfs filesystem du`), after flushing pending writes. */
async function extentExclusive(path: string): Promise<number> {
  // FIEMAP does not see delayed allocations: flush them, or fresh writes count as nothing.
  await runOk(["btrfs", "filesystem", "sync", path]);
  const out = await runOk(["btrfs", "filesystem", "du", "-s", "--raw", path]);
  const row = out.trim().split("\n").pop()?.trim().split(/\s+/);
  const bytes = Number(row?.[1]);
  if (!Number.isFinite(bytes)) {
    throw new SqlrsError("internal_error", `Cannot read the size of ${path}: btrfs said "${out.trim()}"`);
  }
  return bytes;
}

/** The generation (last transaction that changed it) of the subvolume at `path`. */
async function generation(path: string): Promise<number | undefined> {
  const out = await runOk(["btrfs", "subvolume", "show", path]);
  const found = /^\s*Generation:\s*(\d+)\s*$/m.exec(out)?.[1];
  return found === undefined ? undefined : Number(found);
}

/**
 * Bytes of the file extents of subvolume `path` written after subvolume `parent` was last changed: for a
 * state snapshotted from a clone of `parent`, what its step wrote. `btrfs subvolume find-new` lists
 * every extent of each file changed since a generation, each with the generation that wrote it; the
 * extents of a later generation are the new ones, the others are still shared with `parent`.
 */
async function bytesWrittenSince(path: string, parent: string): Promise<number | undefined> {
  const since = await generation(parent);
  if (since === undefined) return undefined;
  const out = await runOk(["btrfs", "subvolume", "find-new", path, String(since)]);
  let bytes = 0;
  for (const line of out.split("\n")) {
    const extent = /^inode \d+ file offset \d+ len (\d+) disk start (\d+) offset \d+ gen (\d+) flags (\S+)/
      .exec(line);
    if (extent === null || Number(extent[3]) <= since) continue;
    // disk start 0 without INLINE is a hole or a preallocation with nothing on disk.
    if (extent[2] === "0" && !(extent[4] as string).includes("INLINE")) continue;
    bytes += Number(extent[1]);
  }
  return bytes;
}

/**
 * Creates the `btrfs` backend for a store on btrfs (see `createStateFS` for the detection).
 *
 * Durability: `btrfs subvolume snapshot` flushes the source's pending data and commits a transaction
 * before it returns, so a state exists on disk complete or not at all without any further sync.
 *
 * Own bytes: of a state on its parent, the data extents written after the parent (`find-new`), which a
 * state keeps even while the clone it was taken from still shares them. Its exclusive bytes would not
 * do: right after the snapshot, the job's clone shares every byte the step wrote, so they read 0.
 * Without a parent, exclusive bytes: with quotas on, the subvolume's qgroup (which also counts
 * metadata); else the "Exclusive" column of `btrfs filesystem du`. Metadata is not counted on a parent.
 *
 * @param root the store root, shown by `describe()`.
 */
export function createBtrfsStateFS(root: string): StateFS {
  return {
    kind: "btrfs",
    describe() {
      return Promise.resolve({
        kind: "btrfs",
        detail: `subvolume snapshots, O(1) and shared (btrfs at ${root})`,
      });
    },
    async createEmpty(path) {
      await refuseExisting(path, "create");
      await ensureParent(path);
      await runOk(["btrfs", "subvolume", "create", path]);
    },
    async snapshot(src, dst) {
      await refuseExisting(dst, "snapshot");
      await requireDirectory(src, "snapshot");
      await ensureParent(dst);
      if (await isSubvolume(src)) await runOk(["btrfs", "subvolume", "snapshot", "-r", src, dst]);
      else await copyIntoSubvolume(src, dst, true);
    },
    async clone(src, dst) {
      await refuseExisting(dst, "clone");
      await requireDirectory(src, "clone");
      await ensureParent(dst);
      if (await isSubvolume(src)) await runOk(["btrfs", "subvolume", "snapshot", src, dst]);
      else await copyIntoSubvolume(src, dst, false);
      return dst;
    },
    flush: syncFilesystem,
    remove,
    async ownBytes(path, parent) {
      if (!(await pathExists(path))) throw notFound(`Cannot measure ${path}: it does not exist`, { path });
      const subvolume = await isSubvolume(path);
      if (subvolume && parent !== undefined && await isSubvolume(parent)) {
        const written = await bytesWrittenSince(path, parent);
        if (written !== undefined) return written;
      }
      const fromQgroup = subvolume ? await qgroupExclusive(path) : undefined;
      return fromQgroup ?? await extentExclusive(path);
    },
    recover(storeRoot) {
      return removeLeftovers(storeRoot, remove);
    },
  };
}
