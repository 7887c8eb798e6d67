/**
 * The `btrfs` snapshot backend: the base and every clone are subvolumes, a state is a read-only
 * snapshot, a clone a writable one. Both are O(1) in the size of the data and take no space up front.
 *
 * @module
 */

import { dirname } from "node:path";
import { defaultExec, type Exec } from "../exec.ts";
import { notFound, SqlrsError } from "../../shared/errors.ts";
import type { StateFS, StateFSAvailability } from "./types.ts";
import {
  copyTree,
  discard,
  ensureParent,
  filesystemName,
  filesystemType,
  fsyncDirectory,
  moveClone,
  pathExists,
  refuseExisting,
  removeLeftovers,
  requireDirectory,
  syncFilesystem,
  tempSibling,
} from "./copy.ts";
import { renameIntoPlace } from "./publish.ts";
import { filesystemUsage } from "./usage.ts";
import { handOver, reattachPath } from "./volume.ts";

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

async function isReadOnly(exec: Exec, path: string): Promise<boolean> {
  const result = await exec.run(["btrfs", "property", "get", "-ts", path, "ro"]);
  return result.code === 0 && result.stdout.trim() === "ro=true";
}

async function deleteSubvolume(exec: Exec, path: string): Promise<void> {
  const argv = ["btrfs", "subvolume", "delete", path];
  const result = await exec.run(argv);
  if (result.code === 0) return;
  // Root may delete a read-only subvolume, but a user with user_subvol_rm_allowed may not.
  if (await isReadOnly(exec, path)) {
    await exec.runOk(["btrfs", "property", "set", "-ts", path, "ro", "false"]);
    await exec.runOk(argv);
    return;
  }
  if (!(await pathExists(path))) return;
  await exec.runOk(argv);
}

async function remove(exec: Exec, path: string): Promise<void> {
  if (await isSubvolume(path)) await deleteSubvolume(exec, path);
  // Not --one-file-system: every subvolume has its own device number.
  else await exec.runOk(["rm", "-rf", "--", path]);
}

/**
 * Makes `dst` a new subvolume holding a reflink copy of `src`, for sources that are plain directories
 * (a snapshot of one is impossible). The copy is made under a temporary name and renamed: a subvolume
 * that is read-only can still be renamed within its directory (not moved to another one: EROFS).
 */
async function copyIntoSubvolume(
  exec: Exec,
  { src, dst, readOnly }: { src: string; dst: string; readOnly: boolean },
): Promise<void> {
  const tmp = tempSibling(dst);
  try {
    await exec.runOk(["btrfs", "subvolume", "create", tmp]);
    await copyTree(exec, src, tmp);
    if (readOnly) {
      await exec.runOk(["btrfs", "property", "set", "-ts", tmp, "ro", "true"]);
      // A transaction commit alone does not wait for delalloc data; `filesystem sync` flushes it first.
      await exec.runOk(["btrfs", "filesystem", "sync", tmp]);
    }
    await refuseExisting(dst, readOnly ? "snapshot" : "clone");
    await Deno.rename(tmp, dst);
  } catch (error) {
    await discard(tmp, (path) => remove(exec, path));
    throw error;
  }
  if (readOnly) await fsyncDirectory(dirname(dst));
}

/** Exclusive bytes of a subvolume from its qgroup, or undefined when quotas are off. */
async function qgroupExclusive(exec: Exec, path: string): Promise<number | undefined> {
  const result = await exec.run(["btrfs", "qgroup", "show", "-f", "--raw", "--sync", path]);
  if (result.code !== 0) return undefined;
  for (const line of result.stdout.split("\n")) {
    const [id, , exclusive] = line.trim().split(/\s+/);
    if (id?.startsWith("0/") && exclusive !== undefined && /^\d+$/.test(exclusive)) return Number(exclusive);
  }
  return undefined;
}

/** Bytes in extents that no other file shares (`btrfs filesystem du`), after flushing pending writes. */
async function extentExclusive(exec: Exec, path: string): Promise<number> {
  // FIEMAP does not see delayed allocations: flush them, or fresh writes count as nothing.
  await exec.runOk(["btrfs", "filesystem", "sync", path]);
  const out = await exec.runOk(["btrfs", "filesystem", "du", "-s", "--raw", path]);
  const row = out.trim().split("\n").pop()?.trim().split(/\s+/);
  const bytes = Number(row?.[1]);
  if (!Number.isFinite(bytes)) {
    throw new SqlrsError("internal_error", `Cannot read the size of ${path}: btrfs said "${out.trim()}"`);
  }
  return bytes;
}

/** One file extent as `btrfs subvolume find-new` prints it. */
interface Extent {
  len: number;
  /** The transaction that wrote it. */
  gen: number;
  /** Whether it takes data space: not a hole or preallocation (disk start 0), unless inline. */
  stored: boolean;
}

/** The file extents of subvolume `path` in files changed after transaction `since` (0: every extent). */
async function findNew(exec: Exec, path: string, since: number): Promise<Extent[]> {
  const out = await exec.runOk(["btrfs", "subvolume", "find-new", path, String(since)]);
  const extents: Extent[] = [];
  for (const line of out.split("\n")) {
    const m = /^inode \d+ file offset \d+ len (\d+) disk start (\d+) offset \d+ gen (\d+) flags (\S+)/.exec(
      line,
    );
    if (m === null) continue;
    extents.push({
      len: Number(m[1]),
      gen: Number(m[3]),
      stored: m[2] !== "0" || (m[4] as string).includes("INLINE"),
    });
  }
  return extents;
}

/**
 * Bytes of the file extents of subvolume `path` written after every extent of subvolume `parent`: for a
 * state snapshotted from a clone of `parent`, what its step wrote (the other extents are still shared
 * with `parent`). The parent's newest extent, not its generation, marks the boundary: taking a snapshot
 * of a subvolume (a clone for the next job) moves its generation on.
 */
async function bytesWrittenAfter(exec: Exec, path: string, parent: string): Promise<number> {
  const since = (await findNew(exec, parent, 0)).reduce((newest, extent) => Math.max(newest, extent.gen), 0);
  return (await findNew(exec, path, since))
    .filter((extent) => extent.gen > since && extent.stored)
    .reduce((sum, extent) => sum + extent.len, 0);
}

/** Whether the store at `storeRoot` is on btrfs and the btrfs tool is there. */
export async function probeBtrfs(storeRoot: string, exec: Exec = defaultExec): Promise<StateFSAvailability> {
  const type = await filesystemType(exec, storeRoot);
  if (type !== "btrfs") {
    return {
      available: false,
      detail: `${storeRoot} is on ${await filesystemName(exec, storeRoot)}, not btrfs ` +
        `(run "sqlrs init local --snapshot btrfs --store image")`,
    };
  }
  const tool = await exec.run(["btrfs", "--version"]).catch(() => undefined);
  if (tool?.code !== 0) {
    return {
      available: false,
      detail: `${storeRoot} is on btrfs, but the btrfs tool is missing (install btrfs-progs)`,
    };
  }
  return { available: true, detail: `${storeRoot} is on btrfs` };
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
 * metadata); else the "Exclusive" column of `btrfs filesystem du`. On a parent, metadata is not counted:
 * the tree blocks a state copied on write (measured: about 230 KiB per step of a series of small
 * migrations) cannot be read from a mounted filesystem without going around its page cache.
 *
 * @param root the store root, shown by `describe()`.
 * @param exec runs its commands (`btrfs`, `cp`, `rm`, `sync`, `df`).
 */
export function createBtrfsStateFS(root: string, exec: Exec = defaultExec): StateFS {
  const removePath = (path: string) => remove(exec, path);
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
      await exec.runOk(["btrfs", "subvolume", "create", path]);
      return handOver(path);
    },
    async snapshot(src, dst) {
      await refuseExisting(dst, "snapshot");
      await requireDirectory(src, "snapshot");
      await ensureParent(dst);
      if (await isSubvolume(src)) await exec.runOk(["btrfs", "subvolume", "snapshot", "-r", src, dst]);
      else await copyIntoSubvolume(exec, { src, dst, readOnly: true });
    },
    async clone(src, dst) {
      await refuseExisting(dst, "clone");
      await requireDirectory(src, "clone");
      await ensureParent(dst);
      if (await isSubvolume(src)) await exec.runOk(["btrfs", "subvolume", "snapshot", src, dst]);
      else await copyIntoSubvolume(exec, { src, dst, readOnly: false });
      return handOver(dst);
    },
    adopt: moveClone,
    reattach: reattachPath,
    flush: (path) => syncFilesystem(exec, path),
    remove: removePath,
    publish: renameIntoPlace,
    usage: (path) => filesystemUsage(exec, path),
    async ownBytes(path, parent) {
      if (!(await pathExists(path))) throw notFound(`Cannot measure ${path}: it does not exist`, { path });
      const subvolume = await isSubvolume(path);
      if (subvolume && parent !== undefined && await isSubvolume(parent)) {
        return await bytesWrittenAfter(exec, path, parent);
      }
      const fromQgroup = subvolume ? await qgroupExclusive(exec, path) : undefined;
      return fromQgroup ?? await extentExclusive(exec, path);
    },
    recover(storeRoot) {
      return removeLeftovers(storeRoot, removePath);
    },
  };
}
