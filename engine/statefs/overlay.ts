/**
 * The `overlay` snapshot backend: states are copies (as in the `copy` backend), and a clone is an
 * overlayfs mount whose lower layer is the state, so it costs a mount (a few ms) whatever the size.
 *
 * A clone at `dst` is `dst/upper`, `dst/work` and the mount `dst/merged`, its data directory. The
 * lower layer must never change while mounted, which holds because states are immutable; removing a
 * state that a mounted clone still uses is refused. Mounting needs root (CAP_SYS_ADMIN).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { defaultExec, type Exec } from "../exec.ts";
import { type LinkSource, linkUnchangedCopyRest, lstatOrUndefined, unchangedSince } from "./link_snapshot.ts";
import { invalidArgument, SqlrsError } from "../../shared/errors.ts";
import type { StateFS, StateFSDescription } from "./types.ts";
import {
  buildNew,
  copyToNew,
  createEmptyDirectory,
  createEmptyVolume,
  describeCopies,
  discard,
  existingAncestor,
  filesystemName,
  filesystemType,
  linkedOwnBytes,
  refuseExisting,
  removeLeftovers,
  removeTree,
  requireDirectory,
  sameFilesystem,
  syncFilesystem,
  TEMP_PREFIX,
} from "./copy.ts";
import { renameIntoPlace } from "./publish.ts";
import { filesystemUsage } from "./usage.ts";
import { handOver, reattachPath } from "./volume.ts";

/** One line of /proc/self/mountinfo, the fields this backend needs. */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
  superOptions: string;
}

/** How long {@link unmount} retries a busy mount: a PostgreSQL that just exited may still hold files. */
const UNMOUNT_ATTEMPTS = 20;
const UNMOUNT_RETRY_MS = 50;

function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The mounts this process sees, in mount order. */
export async function readMountInfo(): Promise<MountEntry[]> {
  const mounts: MountEntry[] = [];
  for (const line of (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")) {
    const fields = line.split(" ");
    const separator = fields.indexOf("-", 6);
    const mountPoint = fields[4];
    const fsType = fields[separator + 1];
    if (separator < 6 || mountPoint === undefined || fsType === undefined) continue;
    mounts.push({
      mountPoint: unescapeMountField(mountPoint),
      fsType,
      superOptions: unescapeMountField(fields[separator + 3] ?? ""),
    });
  }
  return mounts;
}

function isAtOrUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
}

/** The value of the mount option `name` (as in `upperdir=/a/b`), or undefined without one. */
function mountOption(mount: MountEntry, name: string): string | undefined {
  const prefix = `${name}=`;
  return mount.superOptions.split(",").find((o) => o.startsWith(prefix))?.slice(prefix.length);
}

function lowerDirs(mount: MountEntry): string[] {
  return (mountOption(mount, "lowerdir") ?? "").split(":").filter((d) => d !== "");
}

async function realPathOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await Deno.realPath(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Unmounts `mountPoint`, retrying while it is busy; "not mounted" counts as done. */
export async function unmount(exec: Exec, mountPoint: string): Promise<void> {
  let stderr = "";
  for (let attempt = 0; attempt < UNMOUNT_ATTEMPTS; attempt++) {
    const result = await exec.run(["umount", mountPoint]);
    if (result.code === 0 || /not mounted|no mount point/i.test(result.stderr)) return;
    stderr = result.stderr.trim();
    if (!/busy/i.test(stderr)) break;
    await new Promise((resolve) => setTimeout(resolve, UNMOUNT_RETRY_MS));
  }
  if (/busy/i.test(stderr)) {
    throw new SqlrsError(
      "conflict",
      `Cannot unmount ${mountPoint}: still busy after ${(UNMOUNT_ATTEMPTS * UNMOUNT_RETRY_MS) / 1000} s; ` +
        `a process (its PostgreSQL server?) still uses it. Stop it, then retry`,
      { details: { path: mountPoint } },
    );
  }
  throw new SqlrsError("internal_error", `Cannot unmount ${mountPoint}: ${stderr}`, {
    details: { path: mountPoint },
  });
}

/** Unmounts every mount at or under `dir` (deepest first) whose type passes `filter`. */
async function unmountUnder(
  exec: Exec,
  dir: string,
  filter: (mount: MountEntry) => boolean,
): Promise<void> {
  const points = (await readMountInfo())
    .filter((m) => filter(m) && isAtOrUnder(m.mountPoint, dir))
    .map((m) => m.mountPoint)
    .sort((a, b) => b.length - a.length);
  const failures: string[] = [];
  for (const point of new Set(points)) {
    try {
      await unmount(exec, point);
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (failures.length > 0) throw new SqlrsError("conflict", failures.join("\n"), { details: { path: dir } });
}

/** overlayfs mount options separate with "," and lowerdir layers with ":"; mount(8) has no escape for them. */
function checkMountablePath(path: string): void {
  if (/[,:\\\n]/.test(path)) {
    throw invalidArgument(`Cannot use ${path} in an overlay mount: it contains ",", ":", "\\" or a newline`, {
      path,
    });
  }
}

/**
 * The lower and upper layer of the overlay mounted at `merged` when it has one lower layer on the
 * filesystem of `linkDir` (so its files can be hard-linked there), else undefined.
 */
async function overlayLayers(
  merged: string,
  linkDir: string,
): Promise<{ lower: string; upper: string } | undefined> {
  const real = await realPathOrUndefined(merged);
  const mount = (await readMountInfo()).findLast((m) => m.mountPoint === real && m.fsType === "overlay");
  if (mount === undefined) return undefined;
  const lowers = lowerDirs(mount);
  const upper = mountOption(mount, "upperdir");
  if (lowers.length !== 1 || upper === undefined) return undefined;
  const lower = lowers[0] as string;
  await Deno.mkdir(linkDir, { recursive: true });
  const [lowerInfo, linkInfo] = await Promise.all([Deno.stat(lower), Deno.stat(linkDir)]);
  return lowerInfo.dev === linkInfo.dev ? { lower, upper } : undefined;
}

async function mountOverlay(exec: Exec, lower: string, dst: string): Promise<string> {
  const [upper, work, merged] = [join(dst, "upper"), join(dst, "work"), join(dst, "merged")];
  for (const path of [lower, upper, work, merged]) checkMountablePath(path);
  const info = await Deno.stat(lower);
  for (const dir of [upper, work, merged]) await Deno.mkdir(dir);
  // The merged root takes upper's owner and mode, and PostgreSQL refuses a data directory that is
  // not owned by its user or is not 0700/0750.
  if (info.uid !== null && info.gid !== null) await Deno.chown(upper, info.uid, info.gid);
  if (info.mode !== null) await Deno.chmod(upper, info.mode & 0o7777);
  await exec.runOk([
    "mount",
    "-t",
    "overlay",
    "overlay",
    "-o",
    `lowerdir=${lower},upperdir=${upper},workdir=${work}`,
    merged,
  ]);
  return merged;
}

async function remove(exec: Exec, path: string): Promise<void> {
  const real = await realPathOrUndefined(path);
  if (real === undefined) return;
  const mounts = await readMountInfo();
  const users = mounts.filter((m) =>
    m.fsType === "overlay" && !isAtOrUnder(m.mountPoint, real) &&
    lowerDirs(m).some((l) => isAtOrUnder(l, real))
  );
  if (users.length > 0) {
    throw new SqlrsError(
      "conflict",
      `Cannot remove ${path}: the clone mounted at ${users.map((m) => m.mountPoint).join(", ")} uses it`,
      { details: { path } },
    );
  }
  await unmountUnder(exec, real, () => true);
  await removeTree(exec, path);
}

/**
 * Where a snapshot of an overlay clone finds the files it can link: a file the upper layer does not have
 * is the lower layer's; one the upper layer has (some step of this job wrote it) may still be unchanged
 * since `previous`, the state the step started from, when the clone served several steps in a row.
 */
function linkSource(layers: { lower: string; upper: string }, previous: LinkSource | undefined): LinkSource {
  return (path, info) => {
    try {
      Deno.lstatSync(join(layers.upper, path));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)) throw error;
      const below = lstatOrUndefined(join(layers.lower, path));
      // A renamed directory's content shows at a path the lower layer does not have: copy it.
      return below?.isFile === true ? join(layers.lower, path) : undefined;
    }
    return previous?.(path, info);
  };
}

/**
 * Whether an overlay can be mounted in `storeRoot` (or its nearest existing ancestor), found by
 * mounting one in a temporary directory there.
 */
export async function probeOverlay(
  storeRoot: string,
  exec: Exec = defaultExec,
): Promise<{ available: boolean; detail: string }> {
  if (Deno.uid() !== 0) {
    return {
      available: false,
      detail: `mounting overlayfs needs root (CAP_SYS_ADMIN); running as uid ${Deno.uid()}`,
    };
  }
  const filesystems = await Deno.readTextFile("/proc/filesystems").catch(() => "");
  if (!/\toverlay$/m.test(filesystems)) return { available: false, detail: "the kernel has no overlayfs" };
  const base = await existingAncestor(storeRoot);
  let probe: string;
  try {
    probe = await Deno.makeTempDir({ dir: base, prefix: `${TEMP_PREFIX}probe-` });
  } catch (error) {
    return {
      available: false,
      detail: `cannot write in ${base}: ${error instanceof Error ? error.message : error}`,
    };
  }
  try {
    const lower = join(probe, "lower");
    await Deno.mkdir(lower);
    await Deno.writeTextFile(join(lower, "probe"), "lower");
    await Deno.mkdir(join(probe, "clone"));
    const merged = await mountOverlay(exec, lower, join(probe, "clone"));
    try {
      await Deno.writeTextFile(join(merged, "probe"), "upper");
      if (await Deno.readTextFile(join(lower, "probe")) !== "lower") {
        return { available: false, detail: "a write through the probe mount reached the lower layer" };
      }
    } finally {
      await unmount(exec, merged);
    }
    return { available: true, detail: `a probe mount on ${await filesystemName(exec, base)} succeeded` };
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n").slice(-1)[0] : String(error);
    return { available: false, detail: `a probe mount in ${base} failed: ${message}` };
  } finally {
    await discard(probe, (path) => remove(exec, path));
  }
}

/**
 * Creates the `overlay` backend. It needs root; `createStateFS` probes a mount before choosing it.
 *
 * A clone of a clone (a source that is itself on overlayfs) is a plain copy at `dst/merged`: stacking
 * overlays is limited to two levels, and the source clone may change while the new one lives.
 * A snapshot hard-links what the step did not write (see `link_snapshot.ts`), and `ownBytes` counts
 * the inodes a state does not share with its parent; of a clone, `upper` and `work` (the walk stays on
 * one filesystem, so skips the mount).
 *
 * @param storeRoot where the store lives; only used by `describe()` to probe for reflinks.
 * @param exec runs its commands (`mount`, `umount`, `cp`, `rm`, `sync`, `df`).
 */
export function createOverlayStateFS(storeRoot?: string, exec: Exec = defaultExec): StateFS {
  let description: Promise<StateFSDescription> | undefined;
  const removePath = (path: string) => remove(exec, path);
  return {
    kind: "overlay",
    describe() {
      description ??= describeCopies(exec, storeRoot).then((copies) => ({
        kind: "overlay",
        detail: `overlayfs mounts over states that are ${copies}`,
      }));
      return description;
    },
    createEmpty: createEmptyVolume,
    async snapshot(src, dst, options) {
      const layers = await overlayLayers(src, dirname(dst));
      if (layers === undefined) return copyToNew(exec, src, dst, { action: "snapshot", durable: true });
      const previous = options?.previous !== undefined && await sameFilesystem(options.previous, dirname(dst))
        ? unchangedSince(options.previous)
        : undefined;
      await buildNew(exec, dst, {
        action: "snapshot",
        durability: "fill",
        fill: (tmp) => linkUnchangedCopyRest(exec, src, tmp, linkSource(layers, previous)),
      });
    },
    async clone(src, dst) {
      await refuseExisting(dst, "clone");
      await requireDirectory(src, "clone");
      const lower = await Deno.realPath(src);
      if ((await filesystemType(exec, lower)) === "overlayfs") {
        await createEmptyDirectory(dst);
        try {
          await copyToNew(exec, lower, join(dst, "merged"), { action: "clone", durable: false });
        } catch (error) {
          await discard(dst, removePath);
          throw error;
        }
        return handOver(join(dst, "merged"));
      }
      await createEmptyDirectory(dst);
      try {
        return handOver(await mountOverlay(exec, lower, dst));
      } catch (error) {
        await discard(dst, removePath);
        throw error;
      }
    },
    // The recorded path as it is: a mount a reboot took is not mounted again.
    reattach: reattachPath,
    flush: (path) => syncFilesystem(exec, path),
    remove: removePath,
    publish: renameIntoPlace,
    usage: (path) => filesystemUsage(exec, path),
    ownBytes: linkedOwnBytes,
    async recover(root, keep) {
      const real = await realPathOrUndefined(root);
      if (real === undefined) return;
      let failure: unknown;
      try {
        await unmountUnder(exec, real, (m) => m.fsType === "overlay" && !(keep?.(m.mountPoint) ?? false));
      } catch (error) {
        failure = error;
      }
      try {
        await removeLeftovers(root, removePath);
      } catch (error) {
        failure ??= error;
      }
      if (failure !== undefined) throw failure;
    },
  };
}
