/**
 * The `copy` snapshot backend, and the file helpers the other backends share.
 *
 * A state and a clone are both `cp -a --reflink=auto` copies: O(1) per file where the filesystem
 * can share extents (XFS with reflink, btrfs), a full copy elsewhere (ext4). A state hard-links the
 * files its step did not write from the step's input state, so on ext4 too it costs what the step
 * changed (and `ownBytes` counts exactly that). Every copy is made in a
 * temporary sibling named `.tmp-*` and renamed into place, so a path that exists is complete; a crash
 * leaves only `.tmp-*` entries, which {@link StateFS.recover} removes.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { defaultExec, type Exec } from "../exec.ts";
import { invalidArgument, notFound, SqlrsError } from "../../shared/errors.ts";
import type { SnapshotOptions, StateFS, StateFSDescription, Volume } from "./types.ts";
import { handOver, reattachPath } from "./volume.ts";
import { bytesNotLinkedFrom, linkUnchangedCopyRest, unchangedSince } from "./link_snapshot.ts";
import { renameIntoPlace } from "./publish.ts";
import { filesystemUsage } from "./usage.ts";

/** The prefix of every temporary entry a backend makes; whatever carries it after a crash is garbage. */
export const TEMP_PREFIX = ".tmp-";

/** How deep {@link removeLeftovers} looks under a store root (states sit at `engines/<e>/<v>/states/<id>`). */
const LEFTOVER_DEPTH = 6;

/** Whether anything (even a dangling symlink) exists at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** `path` itself when it exists, else its nearest existing ancestor. */
export async function existingAncestor(path: string): Promise<string> {
  let current = path;
  while (!(await pathExists(current))) {
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return current;
}

/**
 * The statfs type of the filesystem that holds `path` (or would hold it), as `stat -f -c %T` names it:
 * "btrfs", "xfs", "overlayfs", "tmpfs", or "ext2/ext3" for every ext filesystem (they share one magic).
 */
export async function filesystemType(exec: Exec, path: string): Promise<string> {
  return (await exec.runOk(["stat", "-f", "-c", "%T", await existingAncestor(path)])).trim();
}

/** The filesystem name to show a user ("ext4" where statfs only says "ext2/ext3"). */
export async function filesystemName(exec: Exec, path: string): Promise<string> {
  const target = await existingAncestor(path);
  const found = await exec.run(["findmnt", "-n", "-o", "FSTYPE", "-T", target]).catch(() => undefined);
  const name = found?.code === 0 ? found.stdout.trim().split("\n").pop()?.trim() : undefined;
  return name !== undefined && name !== "" ? name : await filesystemType(exec, target);
}

/** A fresh temporary name next to `path`, so that a rename onto `path` stays on one filesystem. */
export function tempSibling(path: string): string {
  const name = path.slice(dirname(path).length).replace(/^\/+/, "");
  return join(dirname(path), `${TEMP_PREFIX}${name}-${crypto.randomUUID().slice(0, 8)}`);
}

/** Throws a `conflict` error when `path` exists: snapshots and clones never overwrite. */
export async function refuseExisting(path: string, action: string): Promise<void> {
  if (await pathExists(path)) {
    throw new SqlrsError("conflict", `Cannot ${action} to ${path}: it already exists`, { details: { path } });
  }
}

/** Throws `not_found` or `invalid_argument` unless `path` is a directory. */
export async function requireDirectory(path: string, action: string): Promise<Deno.FileInfo> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw notFound(`Cannot ${action} ${path}: it does not exist`, { path });
    }
    throw error;
  }
  if (!info.isDirectory) throw invalidArgument(`Cannot ${action} ${path}: not a directory`, { path });
  return info;
}

/** Creates the parent directories of `path`. */
export async function ensureParent(path: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
}

/**
 * Copies the tree `src` to `dst` with `cp -a --reflink=auto` (owners, modes, times, symlinks, hard
 * links, xattrs). With `-T`, an existing `dst` directory receives the content and attributes of `src`.
 */
export async function copyTree(exec: Exec, src: string, dst: string): Promise<void> {
  await exec.runOk(["cp", "-a", "--reflink=auto", "-T", "--", src, dst]);
}

/**
 * Flushes the whole filesystem that holds `path` (`sync -f`, i.e. syncfs(2)).
 *
 * One syncfs is correct (data, inodes and directory entries of the whole copy reach the disk) and
 * cheaper than an fsync per file: on ext4 every fsync forces its own journal commit, and measured on a
 * 213 MB, 967-file tree, syncfs took 100 ms against 370 ms for fsync of each file and directory.
 * The price is that it also flushes other dirty data on the same filesystem.
 */
export async function syncFilesystem(exec: Exec, path: string): Promise<void> {
  await exec.runOk(["sync", "-f", "--", path]);
}

/** fsync(2) of a directory, which makes a rename or a new entry in it durable. */
export async function fsyncDirectory(path: string): Promise<void> {
  const dir = await Deno.open(path, { read: true });
  try {
    await dir.sync();
  } finally {
    dir.close();
  }
}

/**
 * {@link StateFS.ownBytes} where states share files by hard links: the bytes of the inodes under `path`
 * that `parent` does not hold.
 */
export async function linkedOwnBytes(path: string, parent?: string): Promise<number> {
  if (!(await pathExists(path))) throw notFound(`Cannot measure ${path}: it does not exist`, { path });
  return await bytesNotLinkedFrom(path, parent);
}

/** Whether `a` and `b` (which exist) are on one filesystem, so that one can hard-link into the other. */
export async function sameFilesystem(a: string, b: string): Promise<boolean> {
  const [infoA, infoB] = await Promise.all([Deno.stat(a), Deno.stat(b)]);
  return infoA.dev === infoB.dev;
}

/**
 * Removes a directory tree; a missing path is fine. `--one-file-system` makes rm fail rather than
 * delete through something still mounted inside the tree.
 */
export async function removeTree(exec: Exec, path: string): Promise<void> {
  await exec.runOk(["rm", "-rf", "--one-file-system", "--", path]);
}

/** Removes `path` after a failed operation, keeping the original error. */
export async function discard(path: string, remove: (path: string) => Promise<void>): Promise<void> {
  try {
    await remove(path);
  } catch {
    // the caller is already failing; recover() removes what is left
  }
}

/**
 * Every `.tmp-*` entry under `root`, up to {@link LEFTOVER_DEPTH} levels deep. Data directories (those
 * holding `PG_VERSION`) are not entered: they are large and no backend puts temporary entries there.
 */
export async function findLeftovers(root: string): Promise<string[]> {
  const found: string[] = [];
  const queue: Array<{ dir: string; depth: number }> = [{ dir: root, depth: 1 }];
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(item.dir));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) continue;
      throw error;
    }
    for (const entry of entries) {
      const path = join(item.dir, entry.name);
      if (entry.name.startsWith(TEMP_PREFIX)) found.push(path);
      else if (
        entry.isDirectory && item.depth < LEFTOVER_DEPTH && !(await pathExists(join(path, "PG_VERSION")))
      ) {
        queue.push({ dir: path, depth: item.depth + 1 });
      }
    }
  }
  return found;
}

/** Removes every `.tmp-*` leftover under `root` with the backend's own `remove`. */
export async function removeLeftovers(root: string, remove: (path: string) => Promise<void>): Promise<void> {
  for (const path of await findLeftovers(root)) await remove(path);
}

/** Creates an empty directory and its missing parents; refuses an existing one. */
export async function createEmptyDirectory(path: string): Promise<void> {
  await ensureParent(path);
  try {
    await Deno.mkdir(path);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new SqlrsError("conflict", `Cannot create ${path}: it already exists`, { details: { path } });
    }
    throw error;
  }
}

/**
 * Copies `src` to a new `dst` through a temporary sibling and a rename, so `dst` appears complete or
 * not at all. With `durable`, the copy is flushed before the rename and the rename afterwards, so that
 * once `dst` exists on disk its content does too.
 */
export async function copyToNew(
  exec: Exec,
  src: string,
  dst: string,
  options: { action: string; durable: boolean },
): Promise<void> {
  await requireDirectory(src, options.action);
  await buildNew(exec, dst, {
    action: options.action,
    durability: options.durable ? "syncfs" : "none",
    fill: (tmp) => copyTree(exec, src, tmp),
  });
}

/**
 * How {@link buildNew} makes what it built durable before the rename: not at all (a clone), by one
 * syncfs of the filesystem, or `fill` has (it fsynced what it wrote).
 */
export type Durability = "none" | "syncfs" | "fill";

/**
 * Makes a new `dst` with `fill`, which creates the path it is given and fills it, through a temporary
 * sibling and a rename; unless `durability` is "none", the content is durable before the rename (see
 * {@link Durability}) and the rename is made durable after it, as {@link copyToNew} says.
 */
export async function buildNew(
  exec: Exec,
  dst: string,
  { action, durability, fill }: {
    action: string;
    durability: Durability;
    fill: (tmp: string) => Promise<unknown>;
  },
): Promise<void> {
  await refuseExisting(dst, action);
  await ensureParent(dst);
  const tmp = tempSibling(dst);
  try {
    await fill(tmp);
    if (durability === "syncfs") await syncFilesystem(exec, tmp);
    // rename(2) would silently replace an empty directory that appeared meanwhile.
    await refuseExisting(dst, action);
    await Deno.rename(tmp, dst);
  } catch (error) {
    await discard(tmp, (path) => removeTree(exec, path));
    throw error;
  }
  if (durability !== "none") await fsyncDirectory(dirname(dst));
}

/** {@link StateFS.adopt} where a clone is a directory whose data directory is itself: a rename. */
export async function moveClone(clone: string, dst: string): Promise<Volume> {
  await refuseExisting(dst, "move a clone");
  await requireDirectory(clone, "move");
  await ensureParent(dst);
  await Deno.rename(clone, dst);
  return handOver(dst);
}

/** {@link StateFS.createEmpty} where that is a plain directory. */
export async function createEmptyVolume(path: string): Promise<Volume> {
  await createEmptyDirectory(path);
  return handOver(path);
}

/** Whether `cp --reflink=always` works in `dir`, found by cloning a small file in a temporary directory. */
export async function probeReflink(exec: Exec, dir: string): Promise<{ reflink: boolean; error?: string }> {
  let probe: string;
  try {
    probe = await Deno.makeTempDir({ dir: await existingAncestor(dir), prefix: `${TEMP_PREFIX}probe-` });
  } catch (error) {
    return { reflink: false, error: error instanceof Error ? error.message : String(error) };
  }
  try {
    await Deno.writeFile(join(probe, "a"), new Uint8Array(4096).fill(7));
    const result = await exec.run(["cp", "--reflink=always", "--", join(probe, "a"), join(probe, "b")]);
    return { reflink: result.code === 0 };
  } finally {
    await discard(probe, (path) => removeTree(exec, path));
  }
}

/** One line saying how copies are made in `storeRoot`: with reflinks or in full. */
export async function describeCopies(exec: Exec, storeRoot: string | undefined): Promise<string> {
  if (storeRoot === undefined) {
    return "copies with cp --reflink=auto (reflinks where the filesystem has them)";
  }
  const [name, probe] = await Promise.all([
    filesystemName(exec, storeRoot).catch(() => "unknown filesystem"),
    probeReflink(exec, storeRoot),
  ]);
  if (probe.error !== undefined) {
    return `copies with cp --reflink=auto (cannot probe ${storeRoot}: ${probe.error})`;
  }
  return probe.reflink ? `copies with reflinks (${name})` : `full copies (${name} has no reflink)`;
}

/**
 * A durable snapshot of `src` at `dst` whose files that nothing wrote since `previous` (when given, and on
 * the same filesystem) are hard links to the files of `previous`, the rest copies.
 */
async function snapshotLinkingUnchanged(
  exec: Exec,
  src: string,
  dst: string,
  options?: SnapshotOptions,
): Promise<void> {
  const previous = options?.previous;
  await ensureParent(dst);
  if (previous === undefined || !(await sameFilesystem(previous, dirname(dst)))) {
    return copyToNew(exec, src, dst, { action: "snapshot", durable: true });
  }
  await requireDirectory(src, "snapshot");
  await buildNew(exec, dst, {
    action: "snapshot",
    durability: "fill",
    fill: (tmp) => linkUnchangedCopyRest(exec, src, tmp, unchangedSince(previous)),
  });
}

/**
 * Creates the `copy` backend. Works on any filesystem.
 *
 * @param storeRoot where the store lives; only used by `describe()` to probe for reflinks.
 * @param exec runs its commands (`cp`, `sync`, `rm`, `df`).
 */
export function createCopyStateFS(storeRoot?: string, exec: Exec = defaultExec): StateFS {
  let description: Promise<StateFSDescription> | undefined;
  const remove = (path: string) => removeTree(exec, path);
  return {
    kind: "copy",
    describe() {
      description ??= describeCopies(exec, storeRoot).then((detail) => ({ kind: "copy", detail }));
      return description;
    },
    createEmpty: createEmptyVolume,
    snapshot: (src, dst, options) => snapshotLinkingUnchanged(exec, src, dst, options),
    async clone(src, dst) {
      // No flush: a clone is disposable, and after a crash it is rebuilt rather than trusted.
      await copyToNew(exec, src, dst, { action: "clone", durable: false });
      return handOver(dst);
    },
    adopt: moveClone,
    reattach: reattachPath,
    flush: (path) => syncFilesystem(exec, path),
    remove,
    publish: renameIntoPlace,
    usage: (path) => filesystemUsage(exec, path),
    ownBytes: linkedOwnBytes,
    recover(root) {
      return removeLeftovers(root, remove);
    },
  };
}
