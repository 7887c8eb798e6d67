/**
 * The CLI ↔ engine lifecycle with real processes and real sockets: spawn on demand, reuse,
 * concurrent spawn, stale engine.json, idle exit, auth, listen restrictions and the store lock.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ENGINE, processAlive, Sandbox, waitFor } from "./_sandbox.ts";

async function statusJson(
  sandbox: Sandbox,
): Promise<{ instance_id: string; pid: number; store_root: string }> {
  const result = await sandbox.cliOk(["--output", "json", "status"]);
  return JSON.parse(result.stdout);
}

Deno.test("sqlrs status spawns an engine on demand and writes engine.json with mode 0600", async () => {
  await using sandbox = await Sandbox.create();
  const status = await statusJson(sandbox);
  const info = await sandbox.engineInfo();
  if (info === undefined) throw new Error("engine.json missing");
  assert.equal(info.instanceId, status.instance_id);
  assert.match(info.endpoint, /^unix:\/\/\//);
  assert.equal((await Deno.stat(sandbox.engineFile)).mode! & 0o777, 0o600);
  assert.equal(status.store_root, sandbox.storeRoot);
});

Deno.test("a second CLI reuses the running engine (same instanceId)", async () => {
  await using sandbox = await Sandbox.create();
  const first = await statusJson(sandbox);
  const second = await statusJson(sandbox);
  assert.equal(second.instance_id, first.instance_id);
  assert.equal(second.pid, first.pid);
});

Deno.test("ten CLIs started at once from nothing end with exactly one engine", async () => {
  await using sandbox = await Sandbox.create();
  const results = await Promise.all(Array.from({ length: 10 }, () => statusJson(sandbox)));
  const ids = new Set(results.map((r) => r.instance_id));
  assert.equal(ids.size, 1, `instanceIds: ${[...ids].join(", ")}`);
  const pids = new Set(results.map((r) => r.pid));
  assert.equal(pids.size, 1);
});

Deno.test("a stale engine.json (dead pid, or a live pid that is no engine) leads to a new engine", async () => {
  await using sandbox = await Sandbox.create();
  const first = await statusJson(sandbox);
  const info = await sandbox.engineInfo();
  Deno.kill(first.pid, "SIGKILL");
  await waitFor(() => !processAlive(first.pid), 5000);
  // The killed engine could not remove its engine.json.
  await Deno.writeTextFile(sandbox.engineFile, JSON.stringify(info));
  const second = await statusJson(sandbox);
  assert.notEqual(second.instance_id, first.instance_id);

  // engine.json naming a live process that is not our engine, with a wrong token.
  await (await sandbox.client()).shutdown();
  await waitFor(() => !processAlive(second.pid), 10_000);
  const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    await Deno.writeTextFile(
      sandbox.engineFile,
      JSON.stringify({
        ...info,
        pid: sleeper.pid,
        authToken: "0".repeat(64),
        endpoint: "http://127.0.0.1:9",
      }),
    );
    const third = await statusJson(sandbox);
    assert.notEqual(third.instance_id, second.instance_id);
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
});

Deno.test("an idle engine exits and removes engine.json", async () => {
  await using sandbox = await Sandbox.create();
  await sandbox.writeCliConfig("orchestrator:\n  idleTimeout: 1s\n");
  const { pid } = await statusJson(sandbox);
  assert.ok(await waitFor(() => !processAlive(pid), 15_000), "engine exited");
  assert.equal(await sandbox.engineInfo(), undefined);
});

Deno.test("the API answers 401 without or with a wrong token, and health needs none", async () => {
  await using sandbox = await Sandbox.create();
  await statusJson(sandbox);
  const info = (await sandbox.engineInfo())!;
  const client = Deno.createHttpClient({
    proxy: { transport: "unix", path: info.endpoint.slice("unix://".length) },
  });
  try {
    const health = await fetch("http://localhost/v1/health", { client });
    assert.equal(health.status, 200);
    assert.equal((await health.json()).instanceId, info.instanceId);
    const none = await fetch("http://localhost/v1/status", { client });
    assert.equal(none.status, 401);
    assert.equal((await none.json()).code, "unauthorized");
    const wrong = await fetch("http://localhost/v1/status", {
      client,
      headers: { authorization: "Bearer nope" },
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const right = await fetch("http://localhost/v1/status", {
      client,
      headers: { authorization: `Bearer ${info.authToken}` },
    });
    assert.equal(right.status, 200);
    await right.body?.cancel();
  } finally {
    client.close();
  }
});

Deno.test("the engine refuses a non-loopback listen address", async () => {
  await using sandbox = await Sandbox.create();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", ENGINE, "--listen", "0.0.0.0:0"],
    env: sandbox.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 2);
  assert.match(new TextDecoder().decode(output.stderr), /only loopback/);
});

Deno.test("a second engine on the same store exits with a clear message", async () => {
  await using sandbox = await Sandbox.create();
  const first = await statusJson(sandbox);
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      ENGINE,
      "--listen",
      "127.0.0.1:0",
      "--write-engine-json",
      join(sandbox.dir, "other.json"),
    ],
    env: sandbox.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 1);
  assert.match(
    new TextDecoder().decode(output.stderr),
    new RegExp(`Another sqlrs engine \\(pid ${first.pid}\\)`),
  );
  assert.ok(processAlive(first.pid), "the first engine keeps running");
});

Deno.test("the engine listens on loopback TCP when asked, and the CLI reaches it through SQLRS_ENGINE_ADDR", async () => {
  await using sandbox = await Sandbox.create();
  const engineJson = join(sandbox.dir, "tcp-engine.json");
  const engine = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", ENGINE, "--listen", "127.0.0.1:0", "--write-engine-json", engineJson],
    env: sandbox.env,
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    assert.ok(await waitFor(async () => (await Deno.stat(engineJson).catch(() => null)) !== null, 15_000));
    const info = JSON.parse(await Deno.readTextFile(engineJson));
    assert.match(info.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    const result = await sandbox.cliOk(["--output", "json", "status"], {
      env: { SQLRS_ENGINE_ADDR: info.endpoint, SQLRS_TOKEN: info.authToken },
    });
    assert.equal(JSON.parse(result.stdout).instance_id, info.instanceId);
  } finally {
    engine.kill("SIGTERM");
    await engine.status;
  }
});
