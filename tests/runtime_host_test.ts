/**
 * Tests of what only the `host` runtime does, against the real PostgreSQL installed here (no mocks):
 * build discovery, the server user, socket paths, processes. What every runtime does is in the
 * runtime contract (tests/runtime_contract_test.ts).
 *
 * Without PostgreSQL the tests are skipped, except under `CI=true`, where they fail.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { run, spawnStreaming } from "../engine/exec.ts";
import { createHostRuntime } from "../engine/runtime/host/host_runtime.ts";
import { createCopyStateFS } from "../engine/statefs/copy.ts";
import type { Volume } from "../engine/statefs/types.ts";
import { findPgBuilds, type PgBuild, selectBuild } from "../engine/runtime/host/pg_install.ts";
import { assertUserCanReach, serverUser } from "../engine/runtime/host/server_user.ts";
import type { ResolvedImage, Runtime, ServerHandle } from "../engine/runtime/types.ts";
import { SqlrsError } from "../shared/errors.ts";
import { createInstanceRole } from "../engine/instances/credentials.ts";

const available = (await createHostRuntime().probe()).available;
const skip = !available && Deno.env.get("CI") !== "true";

/** The temporary root of every test here, removed when the module unloads. */
let rootDir: string | undefined;
/** A base made once by initBase and cloned by the tests that start servers. */
let base: Promise<{ runtime: Runtime; image: ResolvedImage; dir: string }> | undefined;
/** What hands over the volumes servers run on, as in the engine. */
const statefs = createCopyStateFS();

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
    const volume = await statefs.createEmpty(join(await root(), "base"));
    await runtime.initBase(image, volume);
    return { runtime, image, dir: volume.path };
  })();
  return base;
}

let clones = 0;

/** A clone of `src` (the base by default), its data directory, and a run dir for it. */
async function cloneOf(src?: string): Promise<{ volume: Volume; dataDir: string; runDir: string }> {
  const { dir } = await hostBase();
  const n = ++clones;
  const volume = await statefs.clone(src ?? dir, join(await root(), `clone-${n}`));
  return { volume, dataDir: volume.path, runDir: join(await root(), `run-${n}`) };
}

async function psql(
  runtime: Runtime,
  image: ResolvedImage,
  server: ServerHandle,
  sql: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql];
  const result = await runtime.exec(image, server, "psql", args, { cwd: await root() });
  return { ...result, stdout: result.stdout.trim() };
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
  const { image, dir } = await hostBase();
  const user = await serverUser();
  const info = await Deno.stat(dir);
  assert.equal(info.uid, user.uid);
  assert.equal((info.mode ?? 0) & 0o777, 0o700);
  assert.equal((await Deno.readTextFile(join(dir, "PG_VERSION"))).trim(), String(image.major));
  const hba = await Deno.readTextFile(join(dir, "pg_hba.conf"));
  assert.match(hba, /^host all all 0\.0\.0\.0\/0 scram-sha-256$/m);
  assert.doesNotMatch(hba, /^host.*trust/m);
});

pgTest(
  "createHostRuntime().start() serves tools on a socket in the run dir and TCP on 127.0.0.1; stop() ends the process",
  async () => {
    const { runtime, image } = await hostBase();
    const { volume, runDir } = await cloneOf();
    const server = await runtime.start(image, volume, { runDir });
    try {
      assert.equal(server.socketDir, join(runDir, "sock"));
      assert.equal(server.logFile, join(runDir, "postgres.log"));
      assert.equal(server.host, "127.0.0.1");
      const viaTool = await psql(runtime, image, server, "select inet_server_addr() is null");
      assert.equal(viaTool.stdout, "t", "the engine's tools use the socket");
      const hostPsql = (await findPgBuilds())[0]?.psql ?? "psql";
      const env = { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" };
      // postgres has no password over TCP: the DSN is an instance role's.
      const role = await createInstanceRole(server, { user: "sqlrs_t", password: "p@ss:w/rd %1" });
      const viaDsn = await run([
        hostPsql,
        runtime.dsn(role),
        "-X",
        "-A",
        "-t",
        "-c",
        "select inet_server_addr()",
      ], {
        env,
      });
      assert.equal(viaDsn.stdout.trim(), "127.0.0.1", viaDsn.stderr);
    } finally {
      await runtime.stop(server);
    }
    assert.equal(await processGone(Number(server.runtimeId)), true);
  },
);

pgTest("createHostRuntime().start() puts the socket under /tmp when the run dir is too long", async () => {
  const { runtime, image } = await hostBase();
  const { volume } = await cloneOf();
  const runDir = join(await root(), "r".repeat(80), "run");
  const server = await runtime.start(image, volume, { runDir });
  try {
    assert.ok(server.socketDir?.startsWith(`/tmp/sqlrs-sock-${Deno.uid()}/`), server.socketDir ?? "null");
    const result = await psql(runtime, image, server, "select 2");
    assert.equal(result.stdout, "2", result.stderr);
  } finally {
    await runtime.stop(server);
  }
  assert.equal(await exists(server.socketDir ?? ""), false);
});

pgTest(
  "createHostRuntime().start() rejects and leaves no server when its signal aborts mid-start",
  async () => {
    const { runtime, image } = await hostBase();
    const { volume, dataDir, runDir } = await cloneOf();
    const controller = new AbortController();
    const starting = runtime.start(image, volume, { runDir, signal: controller.signal });
    // Abort once the postmaster exists but before it is ready.
    while (!(await exists(join(dataDir, "postmaster.pid")))) await new Promise((r) => setTimeout(r, 1));
    controller.abort();
    await assert.rejects(starting, (e) => e instanceof SqlrsError && e.code === "cancelled");
    assert.equal(await exists(join(dataDir, "postmaster.pid")), false);
    assert.deepEqual(await runtime.stopStrays(dataDir, () => false), []);
  },
);

pgTest(
  "createHostRuntime().stopStrays() stops servers a SIGKILLed engine left, except those kept",
  async () => {
    const { runtime, image } = await hostBase();
    const orphan = await cloneOf();
    const kept = await cloneOf();
    const script = join(await root(), "orphan.ts");
    const moduleUrl = new URL("../engine/runtime/host/host_runtime.ts", import.meta.url).href;
    const statefsUrl = new URL("../engine/statefs/copy.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { createHostRuntime } from ${JSON.stringify(moduleUrl)};
import { createCopyStateFS } from ${JSON.stringify(statefsUrl)};
const runtime = createHostRuntime();
const image = await runtime.resolveImage(undefined);
const volume = await createCopyStateFS().reattach(Deno.args[0]!);
const server = await runtime.start(image, volume, { runDir: Deno.args[1]! });
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

    const keptServer = await runtime.start(image, kept.volume, { runDir: kept.runDir });
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
