/**
 * Runs the snapshot-backend contract on every backend and filesystem this machine offers: copy on
 * ext4 (/tmp) and on XFS with reflink, btrfs, and overlay on ext4. XFS and btrfs live in loop files
 * that each case makes and tears down. A missing component (root, mkfs.xfs, mkfs.btrfs, kernel
 * support) skips the backend with the reason, or fails it when CI=true.
 *
 * @module
 */

import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { defaultExec, run, runOk, spawnStreaming } from "../engine/exec.ts";
import { SqlrsError } from "../shared/errors.ts";
import { runStateFSContract, type StateFSContractSetup } from "../engine/statefs/_contract.ts";
import {
  createBtrfsStateFS,
  createCopyStateFS,
  createOverlayStateFS,
  createStateFS,
  probeStateFS,
  type StateFS,
} from "../engine/statefs/mod.ts";
import { filesystemName } from "../engine/statefs/copy.ts";
import { readMountInfo, unmount } from "../engine/statefs/overlay.ts";

type Requirement = "xfs" | "btrfs" | "overlay";

/** Why a requirement is not met here, or undefined when it is. */
async function missing(requirement: Requirement): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "needs root (mount, losetup, chown)";
  const filesystems = await Deno.readTextFile("/proc/filesystems");
  if (!new RegExp(`\\t${requirement}$`, "m").test(filesystems)) return `the kernel has no ${requirement}`;
  const tools: Record<Requirement, string[][]> = {
    overlay: [],
    xfs: [["mkfs.xfs", "-V"], ["losetup", "--version"]],
    btrfs: [["mkfs.btrfs", "--version"], ["btrfs", "--version"], ["losetup", "--version"]],
  };
  for (const argv of tools[requirement]) {
    const result = await run(argv).catch(() => undefined);
    if (result?.code !== 0) return `${argv[0]} is not installed`;
  }
  return undefined;
}

/** Registers `register` when every requirement is met; else a skipped test, or a failing one under CI. */
async function when(name: string, requirements: Requirement[], register: () => void): Promise<void> {
  for (const requirement of requirements) {
    const reason = await missing(requirement);
    if (reason === undefined) continue;
    if (Deno.env.get("CI") === "true") {
      Deno.test(name, () => {
        throw new Error(`${name} cannot run here: ${reason} (CI=true does not allow skipping)`);
      });
    } else {
      console.warn(`skipping ${name}: ${reason}`);
      Deno.test({ name: `${name} (skipped: ${reason})`, ignore: true, fn() {} });
    }
    return;
  }
  register();
}

/** Unmounts whatever is mounted at or under `dir`, detaches the loop devices of `image`, removes `dir`. */
async function teardown(dir: string, image?: string): Promise<void> {
  let real: string;
  try {
    real = await Deno.realPath(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  const points = (await readMountInfo())
    .map((m) => m.mountPoint)
    .filter((p) => p === real || p.startsWith(`${real}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of points) await unmount(defaultExec, point);
  if (image !== undefined) {
    const attached = await run(["losetup", "-j", image]);
    for (const line of attached.stdout.split("\n")) {
      const device = line.split(":")[0]?.trim();
      if (device) await run(["losetup", "-d", device]);
    }
    // Detaching a loop device that is still being released is deferred by the kernel: give it a moment.
    for (let i = 0; i < 100 && (await runOk(["losetup", "-j", image])).trim() !== ""; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    strictEqual((await runOk(["losetup", "-j", image])).trim(), "", `${image} is still attached`);
  }
  await Deno.remove(dir, { recursive: true });
}

/** A fresh store root in a temporary directory under /tmp (ext4 on our machines). */
async function tmpStore(prefix: string): Promise<{ root: string; cleanup(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: `sqlrs-statefs-${prefix}-` });
  const root = join(dir, "store");
  await Deno.mkdir(root);
  return { root, cleanup: () => teardown(dir) };
}

/** A fresh store root on a 1 GiB loop-mounted filesystem; cleanup unmounts, detaches and deletes. */
async function loopStore(kind: "xfs" | "btrfs"): Promise<{ root: string; cleanup(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: `sqlrs-statefs-${kind}-` });
  const image = join(dir, "fs.img");
  const mountPoint = join(dir, "mnt");
  const cleanup = () => teardown(dir, image);
  try {
    await runOk(["truncate", "-s", "1G", image]);
    await runOk(kind === "xfs" ? ["mkfs.xfs", "-q", "-m", "reflink=1", image] : ["mkfs.btrfs", "-q", image]);
    const device = (await runOk(["losetup", "--find", "--show", image])).trim();
    await Deno.mkdir(mountPoint);
    await runOk(["mount", device, mountPoint]);
    const root = join(mountPoint, "store");
    await Deno.mkdir(root);
    return { root, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function withBackend(
  store: () => Promise<{ root: string; cleanup(): Promise<void> }>,
  backend: (root: string) => StateFS,
): () => Promise<StateFSContractSetup> {
  return async () => {
    const { root, cleanup } = await store();
    return { statefs: backend(root), root, cleanup };
  };
}

/** Runs `fn` with a fresh store and always tears it down. */
async function withStore(
  store: () => Promise<{ root: string; cleanup(): Promise<void> }>,
  fn: (root: string) => Promise<void>,
): Promise<void> {
  const { root, cleanup } = await store();
  try {
    await fn(root);
  } finally {
    await cleanup();
  }
}

function hasCode(code: string, pattern?: RegExp): (error: unknown) => boolean {
  return (error) =>
    error instanceof SqlrsError && error.code === code &&
    (pattern === undefined || pattern.test(error.message));
}

async function sampleDataDir(statefs: StateFS, path: string): Promise<void> {
  await statefs.createEmpty(path);
  await Deno.writeTextFile(join(path, "PG_VERSION"), "15\n");
  await Deno.writeFile(join(path, "data"), crypto.getRandomValues(new Uint8Array(65536)));
  await Deno.chown(path, 101, 104);
  await Deno.chmod(path, 0o700);
}

// ---- copy on ext4 ----

await when("copy on ext4", [], () => {
  runStateFSContract("copy on ext4", withBackend(() => tmpStore("copy"), createCopyStateFS));
  Deno.test("copy on ext4: describe() says there is no reflink", async () => {
    await withStore(() => tmpStore("copy"), async (root) => {
      const name = await filesystemName(defaultExec, root);
      const { detail } = await createCopyStateFS(root).describe();
      if (name === "ext4") strictEqual(detail, "full copies (ext4 has no reflink)");
      else ok(detail.length > 0);
    });
  });
});

// ---- copy on XFS with reflink ----

await when("copy on xfs", ["xfs"], () => {
  runStateFSContract("copy on xfs (reflink)", withBackend(() => loopStore("xfs"), createCopyStateFS));
  Deno.test("copy on xfs: describe() says reflink", async () => {
    await withStore(() => loopStore("xfs"), async (root) => {
      strictEqual((await createCopyStateFS(root).describe()).detail, "copies with reflinks (xfs)");
    });
  });
});

// ---- btrfs ----

await when("btrfs", ["btrfs"], () => {
  runStateFSContract("btrfs", withBackend(() => loopStore("btrfs"), createBtrfsStateFS));

  Deno.test("btrfs: states are read-only subvolumes, clones writable ones", async () => {
    await withStore(() => loopStore("btrfs"), async (root) => {
      const statefs = createBtrfsStateFS(root);
      const src = join(root, "base");
      await sampleDataDir(statefs, src);
      const state = join(root, "states/s1");
      await statefs.snapshot(src, state);
      strictEqual((await Deno.stat(state)).ino, 256);
      await rejects(Deno.writeTextFile(join(state, "x"), "x"), /read-only|os error 30/i);
      const clone = (await statefs.clone(state, join(root, "jobs/j1"))).path;
      strictEqual((await Deno.stat(clone)).ino, 256);
      await Deno.writeTextFile(join(clone, "x"), "x");
      await statefs.remove(clone);
      await statefs.remove(state);
    });
  });

  Deno.test("btrfs: a plain directory is snapshotted into a read-only subvolume by copy", async () => {
    await withStore(() => loopStore("btrfs"), async (root) => {
      const statefs = createBtrfsStateFS(root);
      const src = join(root, "plain");
      await Deno.mkdir(src);
      await Deno.writeTextFile(join(src, "PG_VERSION"), "15\n");
      await Deno.chown(src, 101, 104);
      await Deno.chmod(src, 0o700);
      const state = join(root, "states/s1");
      await statefs.snapshot(src, state);
      const info = await Deno.stat(state);
      deepStrictEqual([info.ino, info.uid, (info.mode ?? 0) & 0o7777], [256, 101, 0o700]);
      strictEqual((await runOk(["btrfs", "property", "get", "-ts", state, "ro"])).trim(), "ro=true");
      strictEqual(await Deno.readTextFile(join(state, "PG_VERSION")), "15\n");
      const clone = (await statefs.clone(src, join(root, "jobs/j1"))).path;
      strictEqual((await Deno.stat(clone)).ino, 256);
      await Deno.writeTextFile(join(clone, "x"), "x");
      deepStrictEqual((await Array.fromAsync(Deno.readDir(join(root, "states")))).map((e) => e.name), ["s1"]);
      await statefs.remove(state);
      await statefs.remove(clone);
    });
  });

  Deno.test("btrfs: recover deletes a read-only temporary subvolume", async () => {
    await withStore(() => loopStore("btrfs"), async (root) => {
      const statefs = createBtrfsStateFS(root);
      const leftover = join(root, "states/.tmp-s1-12345678");
      await statefs.createEmpty(leftover);
      await runOk(["btrfs", "property", "set", "-ts", leftover, "ro", "true"]);
      await statefs.recover(root);
      deepStrictEqual(await Array.fromAsync(Deno.readDir(join(root, "states"))), []);
    });
  });

  Deno.test("btrfs: size comes from qgroups when quotas are on", async () => {
    await withStore(() => loopStore("btrfs"), async (root) => {
      const statefs = createBtrfsStateFS(root);
      await runOk(["btrfs", "quota", "enable", root]);
      await runOk(["btrfs", "quota", "rescan", "-w", root]);
      const src = join(root, "base");
      await sampleDataDir(statefs, src);
      ok((await statefs.ownBytes(src)) >= 65536);
      const state = join(root, "states/s1");
      await statefs.snapshot(src, state);
      const shared = await statefs.ownBytes(state);
      ok(shared > 0 && shared < 65536, `a fresh snapshot holds ${shared} exclusive bytes`);
    });
  });
});

// ---- overlay on ext4 ----

await when("overlay on ext4", ["overlay"], () => {
  runStateFSContract("overlay on ext4", withBackend(() => tmpStore("overlay"), createOverlayStateFS));

  Deno.test("overlay: a clone is a mount whose root has the state's owner and mode", async () => {
    await withStore(() => tmpStore("overlay"), async (root) => {
      const statefs = createOverlayStateFS(root);
      const src = join(root, "base");
      await sampleDataDir(statefs, src);
      const state = join(root, "states/s1");
      await statefs.snapshot(src, state);
      const clone = join(root, "jobs/j1");
      const data = (await statefs.clone(state, clone)).path;
      strictEqual(data, join(clone, "merged"));
      const real = await Deno.realPath(data);
      ok((await readMountInfo()).some((m) => m.mountPoint === real && m.fsType === "overlay"));
      const info = await Deno.stat(data);
      deepStrictEqual([info.uid, info.gid, (info.mode ?? 0) & 0o7777], [101, 104, 0o700]);
      match((await statefs.describe()).detail, /^overlayfs mounts over states that are /);
      await statefs.remove(clone);
      await statefs.remove(state);
    });
  });

  Deno.test("overlay: a snapshot of a clone links what the clone left alone and copies the rest", async () => {
    await withStore(() => tmpStore("overlay"), async (root) => {
      const statefs = createOverlayStateFS(root);
      const base = join(root, "base");
      await sampleDataDir(statefs, base);
      await Deno.mkdir(join(base, "sub/deep"), { recursive: true });
      for (const name of ["kept", "changed", "deleted", "renamed"]) {
        await Deno.writeTextFile(join(base, "sub/deep", name), `${name} in the base`);
      }
      await Deno.symlink("sub/deep/kept", join(base, "link"));
      const clone = join(root, "jobs/j1");
      const data = (await statefs.clone(base, clone)).path;
      await Deno.writeTextFile(join(data, "sub/deep/changed"), "changed in the clone");
      await Deno.remove(join(data, "sub/deep/deleted"));
      await Deno.rename(join(data, "sub/deep/renamed"), join(data, "sub/moved"));
      await Deno.writeTextFile(join(data, "sub/new"), "new in the clone");
      await Deno.chmod(join(data, "sub"), 0o750);

      const state = join(root, "states/s1");
      await statefs.snapshot(data, state);
      await statefs.remove(clone);
      const inode = async (path: string) => (await Deno.lstat(path)).ino;
      // Untouched files are the base's own inodes; what the clone wrote is a copy of its own.
      strictEqual(await inode(join(state, "data")), await inode(join(base, "data")));
      strictEqual(await inode(join(state, "sub/deep/kept")), await inode(join(base, "sub/deep/kept")));
      ok((await inode(join(state, "sub/deep/changed"))) !== (await inode(join(base, "sub/deep/changed"))));
      strictEqual(await Deno.readTextFile(join(state, "sub/deep/changed")), "changed in the clone");
      strictEqual(await Deno.readTextFile(join(state, "sub/moved")), "renamed in the base");
      strictEqual(await Deno.readTextFile(join(state, "sub/new")), "new in the clone");
      strictEqual(await Deno.readLink(join(state, "link")), "sub/deep/kept");
      for (const gone of ["sub/deep/deleted", "sub/deep/renamed"]) {
        ok(!(await Deno.lstat(join(state, gone)).then(() => true, () => false)), `${gone} is in the state`);
      }
      // No overlay whiteouts or work files leak in; owners and modes are the clone's.
      const listed = (await runOk(["find", state, "-printf", "%P %y %U:%G %m\n"])).trimEnd().split("\n")
        .sort();
      deepStrictEqual(listed, [
        " d 101:104 700",
        "PG_VERSION f 0:0 644",
        "data f 0:0 644",
        "link l 0:0 777",
        "sub d 0:0 750",
        "sub/deep d 0:0 755",
        "sub/deep/changed f 0:0 644",
        "sub/deep/kept f 0:0 644",
        "sub/moved f 0:0 644",
        "sub/new f 0:0 644",
      ]);
      // The base stays as it was.
      strictEqual(await Deno.readTextFile(join(base, "sub/deep/changed")), "changed in the base");
      await statefs.remove(state);
      strictEqual(await Deno.readTextFile(join(base, "sub/deep/kept")), "kept in the base");
    });
  });

  Deno.test("overlay: a state under a mounted clone cannot be removed; a busy clone says so", async () => {
    await withStore(() => tmpStore("overlay"), async (root) => {
      const statefs = createOverlayStateFS(root);
      const src = join(root, "base");
      await sampleDataDir(statefs, src);
      const state = join(root, "states/s1");
      await statefs.snapshot(src, state);
      const clone = join(root, "jobs/j1");
      const data = (await statefs.clone(state, clone)).path;
      await rejects(statefs.remove(state), hasCode("conflict", /uses it/));
      const child = spawnStreaming(["sleep", "30"], { cwd: data });
      try {
        await rejects(statefs.remove(clone), hasCode("conflict", /busy/));
      } finally {
        child.kill("SIGKILL");
        await child.status;
        await child.stdout.cancel();
        await child.stderr.cancel();
      }
      await statefs.remove(clone);
      await statefs.remove(state);
      ok(!(await Deno.stat(state).then(() => true, () => false)));
    });
  });
});

// ---- selection ----

await when("createStateFS on btrfs", ["btrfs"], () => {
  Deno.test("createStateFS: auto picks btrfs on btrfs", async () => {
    await withStore(() => loopStore("btrfs"), async (root) => {
      const { statefs, reason } = await createStateFS("auto", root);
      strictEqual(statefs.kind, "btrfs");
      match(reason, /is on btrfs/);
      strictEqual((await createStateFS("btrfs", root)).statefs.kind, "btrfs");
      const probes = await probeStateFS(root);
      deepStrictEqual(probes.map((p) => [p.kind, p.available]), [["btrfs", true], ["overlay", true], [
        "copy",
        true,
      ]]);
      match(probes[2]?.detail ?? "", /copies with reflinks \(btrfs\)/);
    });
  });
});

await when("createStateFS on ext4", ["overlay"], () => {
  Deno.test("createStateFS: auto picks overlay on ext4 as root; explicit btrfs throws why", async () => {
    await withStore(() => tmpStore("select"), async (root) => {
      const name = await filesystemName(defaultExec, root);
      const { statefs, reason } = await createStateFS("auto", root);
      strictEqual(statefs.kind, "overlay");
      match(reason, /not btrfs.*probe mount .* succeeded/);
      await rejects(
        createStateFS("btrfs", root),
        hasCode(
          "unavailable",
          new RegExp(
            `^Snapshot backend "btrfs" cannot work here: ${root} is on ${name}, not btrfs ` +
              `\\(run "sqlrs init local --snapshot btrfs --store image"\\)$`,
          ),
        ),
      );
      strictEqual((await createStateFS("copy", root)).statefs.kind, "copy");
      strictEqual((await createStateFS("overlay", root)).statefs.kind, "overlay");
      const missingStore = join(root, "not/yet");
      const probes = await probeStateFS(missingStore);
      deepStrictEqual(probes.map((p) => [p.kind, p.available]), [["btrfs", false], ["overlay", true], [
        "copy",
        true,
      ]]);
      ok(!(await Deno.stat(missingStore).then(() => true, () => false)), "probeStateFS created the store");
      deepStrictEqual(await Array.fromAsync(Deno.readDir(root)), [], "a probe left something behind");
    });
  });
});
