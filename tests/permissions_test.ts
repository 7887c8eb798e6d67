/**
 * Another local user reads nothing of a store (real engine and PostgreSQL on the host runtime): not
 * the registry with its DSNs, the config, the token, the logs, a state's files or the socket.
 * Needs root, to create that second user.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Sandbox } from "./_sandbox.ts";
import { need, testNeeding } from "./_needs.ts";

const OTHER_USER = "sqlrs-test-other";

async function run(argv: string[]): Promise<number> {
  const output = await new Deno.Command(argv[0] as string, {
    args: argv.slice(1),
    stdout: "null",
    stderr: "null",
  })
    .output();
  return output.code;
}

/** A second, unprivileged user (created once). */
async function ensureOtherUser(): Promise<void> {
  if (await run(["id", "-u", OTHER_USER]) === 0) return;
  const code = await run([
    "useradd",
    "--system",
    "--no-create-home",
    "--shell",
    "/usr/sbin/nologin",
    OTHER_USER,
  ]);
  // 9: created meanwhile by a parallel test.
  assert.ok(code === 0 || code === 9, `useradd exited ${code}`);
}

/** Whether `OTHER_USER` can do `test -<flag> path`. */
async function otherCan(flag: "r" | "w" | "x", path: string): Promise<boolean> {
  return await run(["runuser", "-u", OTHER_USER, "--", "test", `-${flag}`, path]) === 0;
}

/** Every path under `root` (not following symlinks), with its mode. */
async function walk(root: string): Promise<Array<{ path: string; mode: number; isDirectory: boolean }>> {
  const found: Array<{ path: string; mode: number; isDirectory: boolean }> = [];
  const visit = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      const info = await Deno.lstat(path);
      if (info.isSymlink) continue;
      found.push({ path, mode: (info.mode ?? 0) & 0o777, isDirectory: info.isDirectory });
      if (info.isDirectory) await visit(path);
    }
  };
  await visit(root);
  return found;
}

testNeeding(
  need(Deno.uid() === 0, "root (to create a second user)"),
  "another local user can read nothing under the state dir: registry, config, token, logs, states, socket",
  async () => {
    await ensureOtherUser();
    await using sandbox = await Sandbox.create();
    await sandbox.cliOk(["config", "set", "cache.capacity.maxBytes", "100000000000"]);
    await sandbox.cliOk(["prepare:psql", "--name", "dev", "--", "-c", "create table t (x int)"]);
    const info = (await sandbox.engineInfo())!;
    const store = sandbox.storeRoot;
    const secrets = [
      join(store, "state.db"),
      join(store, "state.db-wal"),
      join(store, "config.json"),
      sandbox.engineFile,
      join(sandbox.stateDir, "logs", "engine.log"),
    ];
    for (const path of secrets) assert.equal(await otherCan("r", path), false, `${path} is readable`);
    assert.equal(await otherCan("w", info.endpoint.replace("unix://", "")), false, "the socket is reachable");
    for (const dir of [sandbox.stateDir, store, join(store, "engines")]) {
      assert.equal(await otherCan("r", dir), false, `${dir} can be listed`);
    }
    const entries = await walk(sandbox.stateDir);
    const stateFiles = entries.filter((e) => e.path.endsWith("/PG_VERSION"));
    assert.ok(stateFiles.length > 0, "the walk found data directories");
    for (const file of stateFiles) {
      assert.equal(await otherCan("r", file.path), false, `${file.path} is readable`);
    }
    const readable = entries.filter((e) => (e.mode & 0o044) !== 0).map((e) =>
      `${e.path} ${e.mode.toString(8)}`
    );
    assert.deepEqual(readable, [], "nothing is readable by group or others");
  },
);

Deno.test("a store an older version left readable is tightened when the engine starts", async () => {
  await using sandbox = await Sandbox.create();
  await sandbox.cliOk(["config", "set", "cache.capacity.maxBytes", "100000000000"]);
  await sandbox.cliOk(["prepare:psql", "--", "-c", "select 1"]);
  await sandbox.cliOk(["engine", "stop"]);
  // As versions before this one left them.
  for (const path of [sandbox.stateDir, sandbox.storeRoot]) await Deno.chmod(path, 0o755);
  for (const file of ["state.db", "config.json"]) await Deno.chmod(join(sandbox.storeRoot, file), 0o644);
  await sandbox.cliOk(["status"]);
  assert.equal((await Deno.stat(sandbox.stateDir)).mode! & 0o777, 0o711);
  assert.equal((await Deno.stat(sandbox.storeRoot)).mode! & 0o777, 0o711);
  assert.equal((await Deno.stat(join(sandbox.storeRoot, "state.db"))).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(join(sandbox.storeRoot, "config.json"))).mode! & 0o777, 0o600);
});
