/**
 * Tests of the `host` runtime against the real PostgreSQL installed here (no mocks).
 *
 * Without PostgreSQL the tests are skipped, except under `CI=true`, where they fail.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { run, runOk, spawnStreaming } from "../engine/exec.ts";
import { createHostRuntime } from "../engine/runtime/host/host_runtime.ts";
import { findPgBuilds, type PgBuild, selectBuild } from "../engine/runtime/host/pg_install.ts";
import { assertUserCanReach, serverUser } from "../engine/runtime/host/server_user.ts";
import type { ResolvedImage, Runtime, ServerHandle, ToolOptions } from "../engine/runtime/types.ts";
import { SqlrsError } from "../shared/errors.ts";
import { createInstanceRole } from "../engine/instances/credentials.ts";

const available = (await createHostRuntime().probe()).available;
const skip = !available && Deno.env.get("CI") !== "true";

/** The temporary root of every test here, removed when the module unloads. */
let rootDir: string | undefined;
/** A base made once by initBase and cloned by the tests that start servers. */
let base: Promise<{ runtime: Runtime; image: ResolvedImage; dir: string }> | undefined;

globalThis.addEventListener("unload", () => {
  if (rootDir !== undefined) Deno.removeSync(rootDir, { recursive: true });
});

async function root(): Promise<string> {
  if (rootDir === undefined) {
    rootDir = await Deno.makeTempDir({ prefix: "sqlrs-host-test-" });
    // makeTempDir makes a 0700 directory the server user could not enter.
    await Deno.chmod(rootDir, 0o755);
  }
  return rootDir;
}

function hostBase(): Promise<{ runtime: Runtime; image: ResolvedImage; dir: string }> {
  base ??= (async () => {
    const runtime = createHostRuntime();
    const image = await runtime.resolveImage(undefined);
    const dir = join(await root(), "base");
    await Deno.mkdir(dir);
    await runtime.initBase(image, dir);
    return { runtime, image, dir };
  })();
  return base;
}

let clones = 0;

/** A `cp -a` copy of `src` (the base by default) and a run dir for it. */
async function cloneOf(src?: string): Promise<{ dataDir: string; runDir: string }> {
  const { dir } = await hostBase();
  const n = ++clones;
  const dataDir = join(await root(), `clone-${n}`);
  await runOk(["cp", "-a", src ?? dir, dataDir]);
  return { dataDir, runDir: join(await root(), `run-${n}`) };
}

async function tool(
  runtime: Runtime,
  image: ResolvedImage,
  server: ServerHandle,
  name: "psql" | "pgbench",
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const options: ToolOptions = { cwd: await root() };
  if (stdin !== undefined) options.stdin = stdin;
  const child = runtime.spawnTool(image, server, name, args, options);
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.status,
  ]);
  return { code, stdout: stdout.trim(), stderr };
}

function psql(
  runtime: Runtime,
  image: ResolvedImage,
  server: ServerHandle,
  sql: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return tool(runtime, image, server, "psql", ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether `pid` has exited (a zombie not yet reaped counts as exited). */
async function processGone(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

function pgTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: skip, fn });
}

function build(bindir: string, major: number, source: PgBuild["source"]): PgBuild {
  return {
    bindir,
    source,
    major,
    version: `PostgreSQL ${major}.1`,
    psql: `${bindir}/psql`,
    psqlVersion: `psql (PostgreSQL) ${major}.1`,
    pgbench: `${bindir}/pgbench`,
  };
}

Deno.test("selectBuild() prefers SQLRS_PG_BIN, then the highest major", () => {
  const dist15 = build("/usr/lib/postgresql/15/bin", 15, "distribution");
  const dist17 = build("/usr/lib/postgresql/17/bin", 17, "distribution");
  const explicit = build("/opt/pg14/bin", 14, "SQLRS_PG_BIN");
  assert.equal(selectBuild([dist17, dist15], undefined), dist17);
  assert.equal(selectBuild([dist15, dist17], "host"), dist17);
  assert.equal(selectBuild([explicit, dist17, dist15], "host"), explicit);
  assert.equal(selectBuild([explicit, dist17, dist15], "host:15"), dist15);
  assert.equal(selectBuild([explicit, dist17, dist15], "14"), explicit);
  assert.throws(() => selectBuild([], undefined), (e) => e instanceof SqlrsError && e.code === "unavailable");
});

pgTest("createHostRuntime().resolveImage() picks the highest major and honours host:<major>", async () => {
  const runtime = createHostRuntime();
  const builds = await findPgBuilds();
  const highest = Math.max(...builds.map((b) => b.major));
  const image = await runtime.resolveImage(undefined);
  assert.equal(image.runtime, "host");
  assert.equal(image.imageId, "host");
  assert.equal(image.major, Deno.env.get("SQLRS_PG_BIN") ? builds[0]?.major : highest);
  assert.match(image.resolvedId, /^host:PostgreSQL \d+/);
  assert.match(image.storeDir, new RegExp(`^host/${image.major}-[0-9a-f]{12}$`));
  assert.match(image.toolIdentity, /^psql \(PostgreSQL\) \d+/);
  const byMajor = await runtime.resolveImage(`host:${image.major}`);
  assert.deepEqual({ ...byMajor, imageId: "host" }, image);
  assert.equal(byMajor.imageId, `host:${image.major}`);
  assert.equal((await runtime.resolveImage(String(image.major))).storeDir, image.storeDir);
});

pgTest("createHostRuntime().resolveImage() refuses other images, listing the builds", async () => {
  const runtime = createHostRuntime();
  const { major } = await runtime.resolveImage(undefined);
  for (const imageId of ["host:3", "postgres:17", "host:latest"]) {
    await assert.rejects(
      runtime.resolveImage(imageId),
      (e) =>
        e instanceof SqlrsError && e.code === "invalid_argument" && e.message.includes(`host:${major} (`),
    );
  }
});

pgTest("createHostRuntime().probe() names the version and the bindir", async () => {
  const probe = await createHostRuntime().probe();
  assert.equal(probe.available, true);
  assert.match(probe.detail, /^PostgreSQL \d+\S* .* at \/\S+$/);
});

pgTest("createHostRuntime().initBase() makes a cluster owned by the server user", async () => {
  const { runtime, image, dir } = await hostBase();
  const user = await serverUser();
  const info = await Deno.stat(dir);
  assert.equal(info.uid, user.uid);
  assert.equal((info.mode ?? 0) & 0o777, 0o700);
  assert.equal((await Deno.readTextFile(join(dir, "PG_VERSION"))).trim(), String(image.major));
  const hba = await Deno.readTextFile(join(dir, "pg_hba.conf"));
  assert.match(hba, /^host all all 0\.0\.0\.0\/0 scram-sha-256$/m);
  assert.doesNotMatch(hba, /^host.*trust/m);
  await assert.rejects(
    runtime.initBase(image, dir),
    (e) => e instanceof SqlrsError && e.message.includes("not empty"),
  );
});

pgTest(
  "createHostRuntime().start() serves psql on the socket and the DSN over TCP; stop() leaves nothing",
  async () => {
    const { runtime, image } = await hostBase();
    const { dataDir, runDir } = await cloneOf();
    const server = await runtime.start(image, dataDir, { runDir });
    try {
      assert.equal(server.runtime, "host");
      assert.equal(server.dataDir, dataDir);
      assert.equal(server.socketDir, join(runDir, "sock"));
      assert.equal(server.logFile, join(runDir, "postgres.log"));
      assert.equal(await runtime.isRunning(server), true);

      const viaTool = await psql(runtime, image, server, "select 1");
      assert.equal(viaTool.code, 0, viaTool.stderr);
      assert.equal(viaTool.stdout, "1");

      // postgres has no password: its DSN opens nothing; an instance's role does.
      const hostPsql = (await findPgBuilds())[0]?.psql ?? "psql";
      const env = { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" };
      const superuser = await run([hostPsql, runtime.dsn(server), "-X", "-w", "-c", "select 1"], { env });
      assert.notEqual(superuser.code, 0);
      const role = await createInstanceRole(server, { user: "sqlrs_t", password: "p@ss:w/rd %1" });
      const dsn = runtime.dsn(role);
      assert.equal(dsn, `postgres://sqlrs_t:p%40ss%3Aw%2Frd%20%251@127.0.0.1:${server.port}/postgres`);
      const viaDsn = await run([
        hostPsql,
        dsn,
        "-X",
        "-A",
        "-t",
        "-c",
        "select current_user, inet_server_addr()",
      ], {
        env,
      });
      assert.equal(viaDsn.code, 0, viaDsn.stderr);
      assert.equal(viaDsn.stdout.trim(), "sqlrs_t|127.0.0.1");
      const wrong = await run([hostPsql, dsn.replace("p%40ss", "nope"), "-X", "-c", "select 1"], { env });
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /password authentication failed/);
    } finally {
      await runtime.stop(server);
    }
    assert.equal(await runtime.isRunning(server), false);
    assert.equal(await exists(join(dataDir, "postmaster.pid")), false);
    assert.equal(await processGone(Number(server.runtimeId)), true);
    await runtime.stop(server); // idempotent
    assert.match(await Deno.readTextFile(server.logFile), /database system is shut down/);
  },
);

pgTest(
  "createHostRuntime().start() on a cp -a copy of a stopped server needs no crash recovery",
  async () => {
    const { runtime, image } = await hostBase();
    const first = await cloneOf();
    const server = await runtime.start(image, first.dataDir, { runDir: first.runDir });
    try {
      const created = await psql(runtime, image, server, "create table t as select 42 as v");
      assert.equal(created.code, 0, created.stderr);
    } finally {
      await runtime.stop(server);
    }
    const second = await cloneOf(first.dataDir);
    const copy = await runtime.start(image, second.dataDir, { runDir: second.runDir });
    try {
      const read = await psql(runtime, image, copy, "select v from t");
      assert.equal(read.stdout, "42");
    } finally {
      await runtime.stop(copy);
    }
    const log = await Deno.readTextFile(copy.logFile);
    assert.doesNotMatch(log, /not properly shut down|automatic recovery/);
    assert.match(log, /database system was shut down at/);
  },
);

pgTest("createHostRuntime().start() ignores a postmaster.pid whose pid another process now has", async () => {
  const { runtime, image } = await hostBase();
  const { dataDir, runDir } = await cloneOf();
  // As after a reboot or in a snapshot of a running cluster: pid 1 is alive but no postmaster of ours.
  await Deno.writeTextFile(
    join(dataDir, "postmaster.pid"),
    `1\n${dataDir}\n1700000000\n5432\n/tmp\n*\n0 0\nready   \n`,
  );
  const server = await runtime.start(image, dataDir, { runDir });
  try {
    assert.notEqual(server.runtimeId, "1");
    assert.equal((await psql(runtime, image, server, "select 3")).stdout, "3");
    // A second start on the same running directory is refused.
    await assert.rejects(
      runtime.start(image, dataDir, { runDir: `${runDir}-2` }),
      (e) => e instanceof SqlrsError && e.code === "conflict",
    );
  } finally {
    await runtime.stop(server);
  }
});

pgTest("createHostRuntime().start() puts the socket under /tmp when the run dir is too long", async () => {
  const { runtime, image } = await hostBase();
  const { dataDir } = await cloneOf();
  const runDir = join(await root(), "r".repeat(80), "run");
  const server = await runtime.start(image, dataDir, { runDir });
  try {
    assert.ok(server.socketDir?.startsWith(`/tmp/sqlrs-sock-${Deno.uid()}/`), server.socketDir ?? "null");
    const result = await psql(runtime, image, server, "select 2");
    assert.equal(result.stdout, "2", result.stderr);
  } finally {
    await runtime.stop(server);
  }
  assert.equal(await exists(server.socketDir ?? ""), false);
});

pgTest("createHostRuntime().start() fails with the tail of the server log", async () => {
  const { runtime, image } = await hostBase();
  const { dataDir, runDir } = await cloneOf();
  await Deno.writeTextFile(join(dataDir, "postgresql.conf"), "shared_buffers = 'plenty'\n", { append: true });
  await assert.rejects(
    runtime.start(image, dataDir, { runDir }),
    (e) => e instanceof SqlrsError && e.code === "internal_error" && /shared_buffers/.test(e.message),
  );
  assert.deepEqual(await runtime.stopStrays(dataDir, () => false), []);
});

pgTest("createHostRuntime().start() rejects and leaves no server when its signal aborts", async () => {
  const { runtime, image } = await hostBase();
  const { dataDir, runDir } = await cloneOf();
  const already = new AbortController();
  already.abort();
  await assert.rejects(
    runtime.start(image, dataDir, { runDir, signal: already.signal }),
    (e) => e instanceof SqlrsError && e.code === "cancelled",
  );

  const controller = new AbortController();
  const starting = runtime.start(image, dataDir, { runDir, signal: controller.signal });
  // Abort once the postmaster exists but before it is ready.
  while (!(await exists(join(dataDir, "postmaster.pid")))) await new Promise((r) => setTimeout(r, 1));
  controller.abort();
  await assert.rejects(starting, (e) => e instanceof SqlrsError && e.code === "cancelled");
  assert.equal(await exists(join(dataDir, "postmaster.pid")), false);
  assert.deepEqual(await runtime.stopStrays(dataDir, () => false), []);
});

pgTest(
  "createHostRuntime().stopStrays() stops servers a SIGKILLed engine left, except those kept",
  async () => {
    const { runtime, image } = await hostBase();
    const orphan = await cloneOf();
    const kept = await cloneOf();
    const script = join(await root(), "orphan.ts");
    const moduleUrl = new URL("../engine/runtime/host/host_runtime.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { createHostRuntime } from ${JSON.stringify(moduleUrl)};
const runtime = createHostRuntime();
const image = await runtime.resolveImage(undefined);
const server = await runtime.start(image, Deno.args[0]!, { runDir: Deno.args[1]! });
console.log(JSON.stringify(server));
setInterval(() => {}, 60_000);
`,
    );
    const engine = spawnStreaming([
      Deno.execPath(),
      "run",
      "-A",
      "--no-config",
      script,
      orphan.dataDir,
      orphan.runDir,
    ], {
      cwd: await root(),
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: Deno.env.get("HOME") ?? "/root" },
    });
    const stderr = new Response(engine.stderr).text();
    const reader = engine.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    engine.kill("SIGKILL");
    await reader.cancel();
    assert.equal(await engine.status, 128 + 9);
    assert.ok(out.includes("\n"), `the orphan engine printed no handle: ${await stderr}`);
    await stderr;
    const orphanServer = JSON.parse(out) as ServerHandle;
    assert.equal(await runtime.isRunning(orphanServer), true);

    const keptServer = await runtime.start(image, kept.dataDir, { runDir: kept.runDir });
    try {
      const stopped = await runtime.stopStrays(await root(), (dir) => dir === kept.dataDir);
      assert.deepEqual(stopped, [orphan.dataDir]);
      assert.equal(await runtime.isRunning(orphanServer), false);
      assert.equal(await exists(join(orphan.dataDir, "postmaster.pid")), false);
      assert.equal(await runtime.isRunning(keptServer), true);
    } finally {
      await runtime.stop(keptServer);
      await runtime.stop(orphanServer);
    }
  },
);

Deno.test({
  name: "assertUserCanReach() names the directory that blocks the server user",
  ignore: Deno.uid() !== 0 || skip,
  async fn() {
    const user = await serverUser();
    const closed = join(await root(), "closed");
    await Deno.mkdir(join(closed, "inner"), { recursive: true });
    await Deno.chmod(closed, 0o700);
    await assert.rejects(
      assertUserCanReach(join(closed, "inner"), user),
      (e) =>
        e instanceof SqlrsError && e.code === "unavailable" && e.message.includes(`${closed} (mode 0700`),
    );
    await Deno.chmod(closed, 0o711);
    await assertUserCanReach(join(closed, "inner"), user);
  },
});
