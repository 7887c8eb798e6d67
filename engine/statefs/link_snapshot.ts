/**
 * Snapshots that share what the step left alone. States and bases are never written once published, so
 * a file of the new state that is unchanged from an earlier state on the same filesystem can be a hard
 * link to that state's file; only what the step wrote is copied. Measured on ext4 after Chinook on a
 * fresh base (669 of 1,308 files written): 240-390 ms against 650-960 ms for a full copy, syncfs
 * included; most of a full copy's time is writing the data of files that did not change. And a state
 * then costs on disk about what its step changed, not the size of the whole data directory.
 *
 * Such a snapshot is made durable by an fsync of what it wrote (the copied files and every directory),
 * not by a syncfs of the whole filesystem: that would also flush the job's clone (a full copy of the
 * data directory on the copy backend, tens of MB that are deleted unflushed once the job ends) and
 * whatever else is being written on the same filesystem. Measured on a 150-step series on ext4 (1,150
 * entries, 19-244 of them copied): that fsync took 4-23 ms; the snapshot with its syncfs took 96-209 ms.
 *
 * Where an unchanged file is found is the backend's business ({@link LinkSource}): for an overlay clone,
 * a file the upper layer does not have is its lower layer's; any file that still has the size, mode and
 * mtime it had in the step's input state ({@link unchangedSince}) is that state's file.
 *
 * @module
 */

import { join } from "node:path";
import type { Exec } from "../exec.ts";

/** Paths per `cp` command line. */
const COPY_BATCH = 500;
/** fsyncs in flight at once: the journal commits concurrent ones together. */
const FSYNC_PARALLEL = 16;

/**
 * Where the regular file at `path` (relative to the snapshot's source, whose lstat is `info`) can be
 * hard-linked from because its content is known to be identical, or undefined to copy it.
 *
 * Synchronous, as the walks of this module are: they make a few syscalls on each of the ~1,200
 * entries of a data directory, all in the page cache; measured on a 150-step series, the walk took
 * 90-130 ms through async calls (each a round trip to a worker thread), and the whole snapshot about
 * 50 ms once they were synchronous.
 */
export type LinkSource = (path: string, info: Deno.FileInfo) => string | undefined;

/** The lstat of `path`, or undefined when nothing is there. */
export function lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return undefined;
    throw error;
  }
}

function applyAttributes(path: string, info: Deno.FileInfo): void {
  if (info.uid !== null && info.gid !== null) Deno.chownSync(path, info.uid, info.gid);
  if (info.mode !== null) Deno.chmodSync(path, info.mode & 0o7777);
  if (info.atime !== null && info.mtime !== null) Deno.utimeSync(path, info.atime, info.mtime);
}

/**
 * A {@link LinkSource} for files that nothing wrote since `previous` (a state or base) was copied into
 * the clone: same size, mode, owner and mtime as the file at the same path in `previous`. Copies into a
 * clone keep mtimes (`cp -a`, overlay copy-up), and a write by the server sets the mtime to the time of
 * the write, which is later than anything `previous` holds: the check rsync makes by default.
 */
export function unchangedSince(previous: string): LinkSource {
  return (path, info) => {
    const before = lstatOrUndefined(join(previous, path));
    if (before?.isFile !== true) return undefined;
    const same = before.size === info.size && before.mode === info.mode && before.uid === info.uid &&
      before.gid === info.gid && before.mtime !== null && before.mtime.getTime() === info.mtime?.getTime();
    return same ? join(previous, path) : undefined;
  };
}

/** fsync(2) of each path (a regular file or a directory), {@link FSYNC_PARALLEL} at a time. */
async function fsyncAll(paths: readonly string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < paths.length; i = next++) {
      using file = await Deno.open(paths[i] as string, { read: true });
      await file.sync();
    }
  };
  await Promise.all(Array.from({ length: Math.min(FSYNC_PARALLEL, paths.length) }, worker));
}

/**
 * Makes the new directory `dst` hold what `src` shows, durably: directories recreated with their owner,
 * mode and times, regular files that `linkSource` finds hard-linked from there, everything else copied
 * from `src` with `cp -a`; then the copied files and every directory are fsynced (a linked file's
 * data is durable already: it belongs to a published state). Whatever `linkSource` returns must be on
 * the filesystem of `dst`. `exec` runs the `cp` commands.
 */
export async function linkUnchangedCopyRest(
  exec: Exec,
  src: string,
  dst: string,
  linkSource: LinkSource,
): Promise<{ linked: number; copied: number }> {
  Deno.mkdirSync(dst);
  const dirs: Array<{ path: string; info: Deno.FileInfo }> = [];
  const toCopy: string[] = [];
  /** Copied regular files: symlinks and the like live in their directory's entries. */
  const toSync: string[] = [];
  let linked = 0;

  const link = (path: string): boolean => {
    const from = linkSource(path, Deno.lstatSync(join(src, path)));
    if (from === undefined) return false;
    try {
      Deno.linkSync(from, join(dst, path));
      return true;
    } catch {
      return false; // e.g. EMLINK, a file linked into too many states: copy it
    }
  };

  const walk = (dir: string): void => {
    for (const entry of Deno.readDirSync(join(src, dir))) {
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory) {
        dirs.push({ path, info: Deno.lstatSync(join(src, path)) });
        Deno.mkdirSync(join(dst, path));
        walk(path);
      } else if (entry.isFile && link(path)) linked++;
      else {
        toCopy.push(path);
        if (entry.isFile) toSync.push(join(dst, path));
      }
    }
  };
  walk("");

  for (let i = 0; i < toCopy.length; i += COPY_BATCH) {
    // --parents: "a/b/f" goes to dst/a/b/f, whose directories the walk made.
    await exec.runOk(["cp", "-a", "--parents", "-t", dst, "--", ...toCopy.slice(i, i + COPY_BATCH)], {
      cwd: src,
    });
  }
  // Directories last, deepest first: adding their entries changed their times.
  dirs.sort((a, b) => b.path.length - a.path.length);
  for (const { path, info } of dirs) applyAttributes(join(dst, path), info);
  applyAttributes(dst, Deno.lstatSync(src));
  await fsyncAll([...toSync, ...dirs.map(({ path }) => join(dst, path)), dst]);
  return { linked, copied: toCopy.length };
}

/**
 * The allocated bytes of every file and directory under `path` whose inode `parent` does not also hold
 * (hard links count once), staying on the filesystem of `path`: what a state of the overlay or copy
 * backend holds on its own, since those share unchanged files with earlier states by hard links.
 * `du` counts the same way, so summed over a chain this is what `du` says the chain takes. Extents
 * shared by reflinks (the copy backend on XFS or btrfs) are not seen: there it is an upper bound, as
 * `du` is.
 */
export async function bytesNotLinkedFrom(path: string, parent?: string): Promise<number> {
  const root = await Deno.lstat(path);
  const inherited = parent === undefined ? new Set<number>() : inodes(parent);
  const seen = new Set<number>();
  let bytes = 0;
  visit(path, root.dev, (info) => {
    if (inherited.has(info.ino as number) || seen.has(info.ino as number)) return;
    seen.add(info.ino as number);
    bytes += (info.blocks ?? 0) * 512;
  });
  return bytes;
}

function inodes(path: string): Set<number> {
  const found = new Set<number>();
  const root = lstatOrUndefined(path);
  if (root !== undefined) visit(path, root.dev, (info) => found.add(info.ino as number));
  return found;
}

/**
 * Calls `fn` with the lstat of `path` and everything under it on device `dev` (mounts are skipped);
 * synchronous, as {@link LinkSource} says why.
 */
function visit(path: string, dev: number, fn: (info: Deno.FileInfo) => void): void {
  const info = lstatOrUndefined(path);
  if (info === undefined || info.dev !== dev) return;
  fn(info);
  if (!info.isDirectory) return;
  for (const entry of Deno.readDirSync(path)) visit(join(path, entry.name), dev, fn);
}
