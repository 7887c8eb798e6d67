/**
 * Snapshots that share what the step left alone. States and bases are never written once published, so
 * a file of the new state that is unchanged from an earlier state on the same filesystem can be a hard
 * link to that state's file; only what the step wrote is copied. Measured on ext4 after Chinook on a
 * fresh base (669 of 1,308 files written): 240-390 ms against 650-960 ms for a full copy, syncfs
 * included; most of a full copy's time is writing the data of files that did not change. And a state
 * then costs on disk about what its step changed, not the size of the whole data directory.
 *
 * Where an unchanged file is found is the backend's business ({@link LinkSource}): for an overlay clone,
 * a file the upper layer does not have is its lower layer's; any file that still has the size, mode and
 * mtime it had in the step's input state ({@link unchangedSince}) is that state's file.
 *
 * @module
 */

import { join } from "node:path";
import { runOk } from "../exec.ts";

/** Paths per `cp` command line. */
const COPY_BATCH = 500;

/**
 * Where the regular file at `path` (relative to the snapshot's source, whose lstat is `info`) can be
 * hard-linked from because its content is known to be identical, or undefined to copy it.
 */
export type LinkSource = (path: string, info: Deno.FileInfo) => Promise<string | undefined>;

async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return undefined;
    throw error;
  }
}

async function applyAttributes(path: string, info: Deno.FileInfo): Promise<void> {
  if (info.uid !== null && info.gid !== null) await Deno.chown(path, info.uid, info.gid);
  if (info.mode !== null) await Deno.chmod(path, info.mode & 0o7777);
  if (info.atime !== null && info.mtime !== null) await Deno.utime(path, info.atime, info.mtime);
}

/**
 * A {@link LinkSource} for files that nothing wrote since `previous` (a state or base) was copied into
 * the clone: same size, mode, owner and mtime as the file at the same path in `previous`. Copies into a
 * clone keep mtimes (`cp -a`, overlay copy-up), and a write by the server sets the mtime to the time of
 * the write, which is later than anything `previous` holds: the check rsync makes by default.
 */
export function unchangedSince(previous: string): LinkSource {
  return async (path, info) => {
    const before = await lstatOrUndefined(join(previous, path));
    if (before?.isFile !== true) return undefined;
    const same = before.size === info.size && before.mode === info.mode && before.uid === info.uid &&
      before.gid === info.gid && before.mtime !== null && before.mtime.getTime() === info.mtime?.getTime();
    return same ? join(previous, path) : undefined;
  };
}

/**
 * Makes the new directory `dst` hold what `src` shows: directories recreated with their owner, mode and
 * times, regular files that `linkSource` finds hard-linked from there, everything else copied from
 * `src` with `cp -a`. Whatever `linkSource` returns must be on the filesystem of `dst`.
 */
export async function linkUnchangedCopyRest(
  src: string,
  dst: string,
  linkSource: LinkSource,
): Promise<{ linked: number; copied: number }> {
  await Deno.mkdir(dst);
  const dirs: Array<{ path: string; info: Deno.FileInfo }> = [];
  const toCopy: string[] = [];
  let linked = 0;

  const link = async (path: string): Promise<boolean> => {
    const from = await linkSource(path, await Deno.lstat(join(src, path)));
    if (from === undefined) return false;
    try {
      await Deno.link(from, join(dst, path));
      return true;
    } catch {
      return false; // e.g. EMLINK, a file linked into too many states: copy it
    }
  };

  const walk = async (dir: string): Promise<void> => {
    const entries: Deno.DirEntry[] = [];
    for await (const entry of Deno.readDir(join(src, dir))) entries.push(entry);
    await Promise.all(entries.map(async (entry) => {
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory) {
        dirs.push({ path, info: await Deno.lstat(join(src, path)) });
        await Deno.mkdir(join(dst, path));
        await walk(path);
      } else if (entry.isFile && await link(path)) linked++;
      else toCopy.push(path);
    }));
  };
  await walk("");

  for (let i = 0; i < toCopy.length; i += COPY_BATCH) {
    // --parents: "a/b/f" goes to dst/a/b/f, whose directories the walk made.
    await runOk(["cp", "-a", "--parents", "-t", dst, "--", ...toCopy.slice(i, i + COPY_BATCH)], { cwd: src });
  }
  // Directories last, deepest first: adding their entries changed their times.
  dirs.sort((a, b) => b.path.length - a.path.length);
  for (const { path, info } of dirs) await applyAttributes(join(dst, path), info);
  await applyAttributes(dst, await Deno.lstat(src));
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
  const inherited = parent === undefined ? new Set<number>() : await inodes(parent);
  const seen = new Set<number>();
  let bytes = 0;
  await visit(path, root.dev, (info) => {
    if (inherited.has(info.ino as number) || seen.has(info.ino as number)) return;
    seen.add(info.ino as number);
    bytes += (info.blocks ?? 0) * 512;
  });
  return bytes;
}

async function inodes(path: string): Promise<Set<number>> {
  const found = new Set<number>();
  const root = await lstatOrUndefined(path);
  if (root !== undefined) await visit(path, root.dev, (info) => found.add(info.ino as number));
  return found;
}

/** Calls `fn` with the lstat of `path` and everything under it on device `dev` (mounts are skipped). */
async function visit(path: string, dev: number, fn: (info: Deno.FileInfo) => void): Promise<void> {
  const info = await lstatOrUndefined(path);
  if (info === undefined || info.dev !== dev) return;
  fn(info);
  if (!info.isDirectory) return;
  const names: string[] = [];
  for await (const entry of Deno.readDir(path)) names.push(entry.name);
  await Promise.all(names.map((name) => visit(join(path, name), dev, fn)));
}
