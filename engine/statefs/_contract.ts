/**
 * The contract every snapshot backend must pass, as Deno tests. A test file calls
 * {@link runStateFSContract} once per backend and filesystem; each case gets a fresh store root from
 * `setup` and calls its `cleanup` whatever happens.
 *
 * The source tree looks like a PGDATA: a 0700 root owned by uid 101 (when the tests run as root),
 * files with several modes, an empty file and directory, symlinks (one dangling) and a `.tmp-*` file
 * that must survive `recover` (data directories are never searched for leftovers).
 *
 * @module
 */

import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { SqlrsError } from "../../shared/errors.ts";
import type { StateFS } from "./types.ts";
import { tempSibling } from "./publish.ts";

/** What one contract case runs against. */
export interface StateFSContractSetup {
  statefs: StateFS;
  /** An empty store root on the filesystem under test (not a mount point itself). */
  root: string;
  /** Removes the root and everything the setup made (mounts, loop devices). */
  cleanup(): Promise<void>;
}

/** uid and gid of `postgres` on our Debian machines. */
const PG_UID = 101;
const PG_GID = 104;
const MiB = 1024 * 1024;

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
  }
  return bytes;
}

async function writeFile(path: string, data: Uint8Array | string, mode: number): Promise<void> {
  if (typeof data === "string") await Deno.writeTextFile(path, data);
  else await Deno.writeFile(path, data);
  await Deno.chmod(path, mode);
}

/** Fills the empty directory `dir` with a small PGDATA-like tree. */
async function buildTree(dir: string): Promise<void> {
  for (const sub of ["base", "base/1", "global", "pg_wal", "pg_tblspc"]) {
    await Deno.mkdir(join(dir, sub));
    await Deno.chmod(join(dir, sub), 0o700);
  }
  await writeFile(join(dir, "PG_VERSION"), "15\n", 0o600);
  await writeFile(join(dir, "base/1/1259"), randomBytes(65536), 0o600);
  await writeFile(join(dir, "base/1/empty"), "", 0o600);
  await writeFile(join(dir, "global/pg_control"), randomBytes(8192), 0o600);
  await writeFile(join(dir, "pg_wal/000000010000000000000001"), randomBytes(MiB), 0o600);
  await writeFile(join(dir, "hook.sh"), "#!/bin/sh\nexit 0\n", 0o755);
  await writeFile(join(dir, "readonly.conf"), "x = 1\n", 0o444);
  await writeFile(join(dir, ".tmp-not-a-leftover"), "part of the data\n", 0o600);
  await Deno.symlink("base/1", join(dir, "link"));
  await Deno.symlink("../nowhere", join(dir, "dangling"));
  await Deno.chmod(dir, 0o700);
  if (Deno.uid() === 0) {
    for await (const path of walkPaths(dir)) {
      if (!(await Deno.lstat(path)).isSymlink) await Deno.chown(path, PG_UID, PG_GID);
    }
  }
}

async function* walkPaths(dir: string): AsyncGenerator<string> {
  yield dir;
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* walkPaths(path);
    else yield path;
  }
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Type, owner, mode, size, mtime and content hash of every entry under `dir`, by relative path. */
async function manifest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function visit(rel: string): Promise<void> {
    const path = rel === "." ? dir : join(dir, rel);
    const info = await Deno.lstat(path);
    const attrs = `uid=${info.uid} gid=${info.gid} mode=${((info.mode ?? 0) & 0o7777).toString(8)}`;
    if (info.isSymlink) {
      out[rel] = `symlink -> ${await Deno.readLink(path)}`;
    } else if (info.isFile) {
      out[rel] = `file ${attrs} size=${info.size} mtime=${info.mtime?.getTime()} sha256=${await sha256(
        path,
      )}`;
    } else if (info.isDirectory) {
      out[rel] = `dir ${attrs}`;
      const names = (await Array.fromAsync(Deno.readDir(path))).map((e) => e.name).sort();
      for (const name of names) await visit(rel === "." ? name : join(rel, name));
    } else {
      out[rel] = "other";
    }
  }
  await visit(".");
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** `.tmp-*` names anywhere under `dir`, not entering data directories (which hold PG_VERSION). */
async function leftovers(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.name.startsWith(".tmp-")) found.push(path);
    else if (entry.isDirectory && !(await exists(join(path, "PG_VERSION")))) {
      found.push(...await leftovers(path));
    }
  }
  return found;
}

/** Mount points strictly below `root`. */
async function mountsUnder(root: string): Promise<string[]> {
  const real = await Deno.realPath(root);
  const lines = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n");
  return lines.map((l) => l.split(" ")[4] ?? "").filter((p) => p.startsWith(`${real}/`));
}

function isConflict(error: unknown): boolean {
  return error instanceof SqlrsError && error.code === "conflict";
}

/** A source data directory at `<root>/base`, made by the backend and filled with {@link buildTree}. */
async function makeSource(statefs: StateFS, root: string): Promise<string> {
  const src = join(root, "base");
  await statefs.createEmpty(src);
  await buildTree(src);
  return src;
}

function statePath(root: string, id: string): string {
  return join(root, "engines/postgres/15/states", id);
}

function clonePath(root: string, id: string): string {
  return join(root, "jobs", id, "runtime");
}

/**
 * Registers the contract's Deno tests for one backend; `name` prefixes every test name.
 *
 * @param setup makes a fresh, empty store root for one case (called once per case)
 */
export function runStateFSContract(name: string, setup: () => Promise<StateFSContractSetup>): void {
  function contractTest(title: string, fn: (env: StateFSContractSetup) => Promise<void>): void {
    Deno.test(`${name}: ${title}`, async () => {
      const env = await setup();
      try {
        await fn(env);
      } finally {
        await env.cleanup();
      }
    });
  }

  contractTest(
    "a snapshot and its clone equal the source, and no temporary entry is left; reattach() hands the clone over again",
    async ({ statefs, root }) => {
      const src = await makeSource(statefs, root);
      const expected = await manifest(src);
      const state = statePath(root, "s1");
      await statefs.snapshot(src, state);
      deepStrictEqual(await manifest(state), expected);
      const data = (await statefs.clone(state, clonePath(root, "j1"))).path;
      deepStrictEqual(await manifest(data), expected);
      strictEqual(
        (await statefs.reattach(data)).path,
        data,
        "a recorded clone is handed over again as it is",
      );
      deepStrictEqual(await leftovers(root), []);
      const description = await statefs.describe();
      strictEqual(description.kind, statefs.kind);
      ok(description.detail.length > 0);
    },
  );

  contractTest("writing in a clone or in the source never changes the state", async ({ statefs, root }) => {
    const src = await makeSource(statefs, root);
    const state = statePath(root, "s1");
    await statefs.snapshot(src, state);
    const expected = await manifest(state);
    const data = (await statefs.clone(state, clonePath(root, "j1"))).path;
    await Deno.writeTextFile(join(data, "PG_VERSION"), "16\n");
    await Deno.writeFile(join(data, "base/1/1259"), randomBytes(100), { append: true });
    await Deno.remove(join(data, "global/pg_control"));
    await Deno.rename(join(data, "hook.sh"), join(data, "hook2.sh"));
    await Deno.chmod(join(data, "readonly.conf"), 0o600);
    await Deno.truncate(join(data, "pg_wal/000000010000000000000001"), 10);
    await Deno.remove(join(data, "link"));
    await Deno.mkdir(join(data, "base/2"));
    await Deno.writeTextFile(join(data, "base/2/new"), "new");
    await Deno.writeTextFile(join(src, "PG_VERSION"), "17\n");
    await Deno.remove(join(src, "base/1/empty"));
    deepStrictEqual(await manifest(state), expected);
  });

  contractTest(
    "publish names a snapshot built under a temporary name, and refuses an existing path",
    async ({ statefs, root }) => {
      const src = await makeSource(statefs, root);
      const expected = await manifest(src);
      const state = statePath(root, "s1");
      const building = tempSibling(state);
      await statefs.snapshot(src, building);
      await statefs.publish(building, state);
      deepStrictEqual(await manifest(state), expected);
      ok(!(await exists(building)), `${building} still exists`);
      const again = tempSibling(state);
      await statefs.snapshot(src, again);
      await rejects(statefs.publish(again, state), isConflict);
      await statefs.remove(again);
      deepStrictEqual(await leftovers(root), []);
    },
  );

  contractTest(
    "an adopted clone keeps its content at its new place, still apart from the state",
    async ({ statefs, root }) => {
      if (statefs.adopt === undefined) return; // overlay: a clone is a mount, it is never moved
      const src = await makeSource(statefs, root);
      const state = statePath(root, "s1");
      await statefs.snapshot(src, state, { previous: src });
      const clone = clonePath(root, "j1");
      const data = (await statefs.clone(state, clone)).path;
      await Deno.writeTextFile(join(data, "marker"), "written in the build area");
      const expected = await manifest(data);
      const moved = (await statefs.adopt(clone, join(root, "instances/i1/data"))).path;
      ok(!(await exists(clone)), "the clone is still at its old place");
      deepStrictEqual(await manifest(moved), expected);
      await Deno.writeTextFile(join(moved, "PG_VERSION"), "16\n");
      ok(!(await exists(join(state, "marker"))));
      strictEqual(
        await Deno.readTextFile(join(state, "PG_VERSION")),
        await Deno.readTextFile(join(src, "PG_VERSION")),
      );
      await rejects(() => statefs.adopt!(state, moved), (error) => isConflict(error));
      await statefs.remove(moved);
      await statefs.remove(state);
      deepStrictEqual(await leftovers(root), []);
    },
  );

  contractTest("usage measures the store's filesystem", async ({ statefs, root }) => {
    const { totalBytes, freeBytes } = await statefs.usage(root);
    ok(totalBytes > 0, `total ${totalBytes}`);
    ok(freeBytes >= 0 && freeBytes <= totalBytes, `free ${freeBytes} of ${totalBytes}`);
  });

  contractTest("remove is idempotent", async ({ statefs, root }) => {
    const src = await makeSource(statefs, root);
    const state = statePath(root, "s1");
    await statefs.snapshot(src, state);
    const clone = clonePath(root, "j1");
    await statefs.clone(state, clone);
    for (const path of [clone, state, src]) {
      await statefs.remove(path);
      ok(!(await exists(path)), `${path} still exists`);
      await statefs.remove(path);
    }
    await statefs.remove(join(root, "never-existed"));
    deepStrictEqual(await mountsUnder(root), []);
  });

  contractTest(
    "a clone of a clone is independent of it and can be snapshotted",
    async ({ statefs, root }) => {
      const src = await makeSource(statefs, root);
      const state = statePath(root, "s1");
      await statefs.snapshot(src, state);
      const first = (await statefs.clone(state, clonePath(root, "j1"))).path;
      await Deno.writeTextFile(join(first, "marker"), "first");
      const second = (await statefs.clone(first, clonePath(root, "j2"))).path;
      const expected = await manifest(first);
      deepStrictEqual(await manifest(second), expected);
      await Deno.writeTextFile(join(first, "marker"), "changed in the first clone");
      await Deno.writeTextFile(join(second, "only-second"), "second");
      strictEqual(await Deno.readTextFile(join(second, "marker")), "first");
      ok(!(await exists(join(first, "only-second"))));
      const state2 = statePath(root, "s2");
      await statefs.snapshot(second, state2);
      const third = (await statefs.clone(state2, clonePath(root, "j3"))).path;
      strictEqual(await Deno.readTextFile(join(third, "only-second")), "second");
      // The usual pipeline: a step runs in a clone of a state, and the clone becomes the next state.
      const state3 = statePath(root, "s3");
      await statefs.snapshot(first, state3);
      deepStrictEqual(await manifest(state3), await manifest(first));
      for (const id of ["j3", "j2", "j1"]) await statefs.remove(clonePath(root, id));
      for (const path of [state3, state2, state]) await statefs.remove(path);
      deepStrictEqual(await mountsUnder(root), []);
    },
  );

  contractTest("ownBytes counts what a path holds on its own", async ({ statefs, root }) => {
    const src = await makeSource(statefs, root);
    ok((await statefs.ownBytes(src)) > MiB, "the source holds nothing");
    const state = statePath(root, "s1");
    await statefs.snapshot(src, state);
    const clone = clonePath(root, "j1");
    const data = (await statefs.clone(state, clone)).path;
    await Deno.writeFile(join(data, "new-data"), randomBytes(2 * MiB));
    const size = await statefs.ownBytes(clone);
    ok(size >= 2 * MiB, `a clone with 2 MiB of new data has ownBytes ${size}`);
    await rejects(
      statefs.ownBytes(join(root, "never-existed")),
      (error) => error instanceof SqlrsError && error.code === "not_found",
    );
    await statefs.remove(clone);
  });

  contractTest(
    "a state made from a clone owns what its step wrote, also while the clone lives on",
    async ({ statefs, root }) => {
      const src = await makeSource(statefs, root);
      const parent = statePath(root, "s1");
      await statefs.snapshot(src, parent);
      const data = (await statefs.clone(parent, clonePath(root, "j1"))).path;
      // A step: a new file, and one page rewritten in place in a file it otherwise leaves alone.
      await Deno.writeFile(join(data, "base/1/16384"), randomBytes(2 * MiB));
      const file = await Deno.open(join(data, "base/1/1259"), { write: true });
      await file.write(randomBytes(8192));
      file.close();
      const child = statePath(root, "s2");
      await statefs.snapshot(data, child, { previous: parent });
      deepStrictEqual(await manifest(child), await manifest(data));
      // The job's clone still shares every byte of the child (btrfs would say 0 exclusive bytes).
      const own = await statefs.ownBytes(child, parent);
      ok(own >= 2 * MiB, `the child owns ${own} bytes on its parent`);
      // The 1 MiB WAL segment did not change: it is not the child's own (not copied, or shared).
      ok(own < 2 * MiB + MiB, `the child owns ${own} bytes on its parent, unchanged files included`);
      // The child does not depend on its parent.
      await statefs.remove(clonePath(root, "j1"));
      await statefs.remove(parent);
      deepStrictEqual(
        await sha256(join(child, "pg_wal/000000010000000000000001")),
        await sha256(join(src, "pg_wal/000000010000000000000001")),
      );
      const alone = await statefs.ownBytes(child);
      ok(alone >= 2 * MiB, `without its parent and the clone, the child owns ${alone} bytes`);
      await statefs.remove(child);
    },
  );

  contractTest(
    "snapshot, clone and createEmpty refuse an existing destination",
    async ({ statefs, root }) => {
      const src = await makeSource(statefs, root);
      const dir = join(root, "existing-dir");
      await Deno.mkdir(dir);
      const file = join(root, "existing-file");
      await Deno.writeTextFile(file, "keep");
      for (const dst of [dir, file]) {
        await rejects(statefs.snapshot(src, dst), isConflict);
        await rejects(statefs.clone(src, dst), isConflict);
        await rejects(statefs.createEmpty(dst), isConflict);
      }
      deepStrictEqual(await Array.fromAsync(Deno.readDir(dir)), []);
      strictEqual(await Deno.readTextFile(file), "keep");
      const state = statePath(root, "s1");
      await statefs.snapshot(src, state);
      await rejects(statefs.snapshot(src, state), isConflict);
      deepStrictEqual(await leftovers(root), []);
    },
  );

  contractTest("recover removes leftovers and nothing else", async ({ statefs, root }) => {
    await statefs.recover(join(root, "never-existed"));
    const src = await makeSource(statefs, root);
    const state = statePath(root, "s1");
    await statefs.snapshot(src, state);
    const expected = await manifest(state);
    const clone = clonePath(root, "j1");
    await statefs.clone(state, clone);
    // What a crash in the middle of a snapshot or a clone leaves behind.
    const partialState = statePath(root, ".tmp-s2-0badf00d");
    await statefs.createEmpty(partialState);
    await Deno.writeTextFile(join(partialState, "half"), "written");
    const partialClone = join(root, "jobs", ".tmp-j2-0badf00d");
    await Deno.mkdir(join(partialClone, "nested"), { recursive: true });
    await Deno.writeTextFile(join(root, "jobs", ".tmp-file"), "x");
    await statefs.recover(root);
    deepStrictEqual(await leftovers(root), []);
    deepStrictEqual(await mountsUnder(root), []);
    deepStrictEqual(await manifest(state), expected);
    ok(await exists(clone), "recover removed a clone");
    await statefs.recover(root);
    await statefs.remove(clone);
    await statefs.remove(state);
    ok(!(await exists(clone)) && !(await exists(state)));
  });
}
