/**
 * The commands the btrfs and overlay backends issue, seen through a recording {@link Exec}: pure
 * logic, on plain temporary directories. What the commands do to a real btrfs or overlayfs is
 * `tests/statefs_test.ts`'s business.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { type Exec, execOver, type ExecResult } from "../exec.ts";
import { SqlrsError } from "../../shared/errors.ts";
import { createBtrfsStateFS, probeBtrfs } from "./btrfs.ts";
import { createOverlayStateFS } from "./overlay.ts";

/** What the fake answers to one command line; exit 0 with no output unless it says otherwise. */
type Answer = (argv: readonly string[]) => Partial<ExecResult> | undefined;

/** An {@link Exec} that records every command line and answers with `answer`, starting nothing. */
function recordingExec(answer: Answer = () => undefined): { exec: Exec; calls: string[][] } {
  const calls: string[][] = [];
  const exec = execOver((argv) => {
    calls.push([...argv]);
    return Promise.resolve({ code: 0, stdout: "", stderr: "", ...answer(argv) });
  });
  return { exec, calls };
}

/** Plays `btrfs subvolume create` on a plain filesystem: the directory appears. */
const subvolumeCreateMakesDirectory: Answer = (argv) => {
  if (argv.slice(0, 3).join(" ") === "btrfs subvolume create") Deno.mkdirSync(argv[3] as string);
  return undefined;
};

async function withDirs(fn: (dir: string, src: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sqlrs-exec-test-" }));
  try {
    const src = join(dir, "src");
    await Deno.mkdir(src);
    await Deno.writeTextFile(join(src, "PG_VERSION"), "17\n");
    await fn(dir, src);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The one `.tmp-` sibling of `path` that a command line names. */
function tempSiblingIn(calls: string[][], path: string): string {
  const temps = new Set(
    calls.flat().filter((arg) => dirname(arg) === dirname(path) && arg.includes("/.tmp-")),
  );
  assert.equal(temps.size, 1, `one temporary sibling of ${path} in ${JSON.stringify(calls)}`);
  return [...temps][0] as string;
}

Deno.test("btrfs clone() of a plain directory copies it into a new subvolume under a temporary name", async () => {
  await withDirs(async (dir, src) => {
    const { exec, calls } = recordingExec(subvolumeCreateMakesDirectory);
    const dst = join(dir, "clones", "c1");
    const volume = await createBtrfsStateFS(dir, exec).clone(src, dst);
    const tmp = tempSiblingIn(calls, dst);
    assert.deepEqual(calls, [
      ["btrfs", "subvolume", "create", tmp],
      ["cp", "-a", "--reflink=auto", "-T", "--", src, tmp],
    ]);
    assert.equal(volume.path, dst);
    assert.ok((await Deno.stat(dst)).isDirectory);
  });
});

Deno.test("btrfs snapshot() of a plain directory makes the copy read-only and flushes it", async () => {
  await withDirs(async (dir, src) => {
    const { exec, calls } = recordingExec(subvolumeCreateMakesDirectory);
    const dst = join(dir, "states", "s1");
    await createBtrfsStateFS(dir, exec).snapshot(src, dst);
    const tmp = tempSiblingIn(calls, dst);
    assert.deepEqual(calls, [
      ["btrfs", "subvolume", "create", tmp],
      ["cp", "-a", "--reflink=auto", "-T", "--", src, tmp],
      ["btrfs", "property", "set", "-ts", tmp, "ro", "true"],
      ["btrfs", "filesystem", "sync", tmp],
    ]);
  });
});

Deno.test("btrfs createEmpty() makes a subvolume; remove() of a plain directory is rm -rf across subvolumes", async () => {
  await withDirs(async (dir, src) => {
    const { exec, calls } = recordingExec();
    const statefs = createBtrfsStateFS(dir, exec);
    await statefs.createEmpty(join(dir, "base"));
    await statefs.remove(src);
    assert.deepEqual(calls, [
      ["btrfs", "subvolume", "create", join(dir, "base")],
      ["rm", "-rf", "--", src],
    ]);
  });
});

Deno.test("btrfs clone() surfaces a failing command as a SqlrsError and removes its temporary entry", async () => {
  await withDirs(async (dir, src) => {
    const { exec, calls } = recordingExec((argv) =>
      argv[0] === "btrfs"
        ? { code: 1, stderr: "ERROR: cannot create subvolume: Permission denied" }
        : undefined
    );
    const dst = join(dir, "clones", "c1");
    const error = await createBtrfsStateFS(dir, exec).clone(src, dst).then(
      () => assert.fail("clone() succeeded"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof SqlrsError, String(error));
    assert.equal(error.code, "internal_error");
    assert.match(error.message, /Command failed \(exit 1\): btrfs subvolume create .*\n.*Permission denied/);
    const tmp = tempSiblingIn(calls, dst);
    assert.deepEqual(calls, [
      ["btrfs", "subvolume", "create", tmp],
      ["rm", "-rf", "--", tmp],
    ]);
    assert.equal(await Deno.stat(dst).catch(() => undefined), undefined);
  });
});

Deno.test("btrfs ownBytes() of a plain directory reads the Exclusive column of btrfs filesystem du", async () => {
  await withDirs(async (dir, src) => {
    const du = "     Total   Exclusive  Set shared  Filename\n  40960  12288  28672  " + src + "\n";
    const { exec, calls } = recordingExec((argv) => argv[2] === "du" ? { stdout: du } : undefined);
    assert.equal(await createBtrfsStateFS(dir, exec).ownBytes(src), 12288);
    assert.deepEqual(calls, [
      ["btrfs", "filesystem", "sync", src],
      ["btrfs", "filesystem", "du", "-s", "--raw", src],
    ]);
    const garbled = recordingExec((argv) => argv[2] === "du" ? { stdout: "ERROR: not btrfs" } : undefined);
    await assert.rejects(
      createBtrfsStateFS(dir, garbled.exec).ownBytes(src),
      (error) =>
        error instanceof SqlrsError && /Cannot read the size of .*"ERROR: not btrfs"/.test(error.message),
    );
  });
});

Deno.test("probeBtrfs() asks stat for the filesystem type and names the missing btrfs tool", async () => {
  await withDirs(async (dir) => {
    const { exec, calls } = recordingExec((argv) =>
      argv[0] === "stat" ? { stdout: "btrfs\n" } : argv[0] === "btrfs" ? { code: 127 } : undefined
    );
    const probe = await probeBtrfs(dir, exec);
    assert.equal(probe.available, false);
    assert.match(probe.detail, /the btrfs tool is missing \(install btrfs-progs\)/);
    assert.deepEqual(calls, [["stat", "-f", "-c", "%T", dir], ["btrfs", "--version"]]);
  });
});

Deno.test("overlay clone() mounts the state as the lower layer; remove() of an unmounted clone is rm -rf", async () => {
  await withDirs(async (dir, src) => {
    const { exec, calls } = recordingExec((argv) =>
      argv[0] === "stat" ? { stdout: "ext2/ext3\n" } : undefined
    );
    const statefs = createOverlayStateFS(dir, exec);
    const dst = join(dir, "clones", "c1");
    const volume = await statefs.clone(src, dst);
    assert.equal(volume.path, join(dst, "merged"));
    await statefs.remove(dst);
    assert.deepEqual(calls, [
      ["stat", "-f", "-c", "%T", src],
      [
        "mount",
        "-t",
        "overlay",
        "overlay",
        "-o",
        `lowerdir=${src},upperdir=${join(dst, "upper")},workdir=${join(dst, "work")}`,
        join(dst, "merged"),
      ],
      ["rm", "-rf", "--one-file-system", "--", dst],
    ]);
  });
});
