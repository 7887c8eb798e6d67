/**
 * The warm pool and reset on a real store (copy backend) with real PostgreSQL servers (host runtime),
 * through the engine's API in process: hand-outs are distinct and isolated, warm instances are not
 * listed until handed out and never outlive their engine, and a reset keeps the DSN and discards
 * every change.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Engine } from "../engine/engine.ts";
import type { PoolStatus } from "../engine/pool/pool.ts";
import type {
  InstanceEntry,
  PrepareBatchResponse,
  PrepareJobEntry,
  PrepareJobEvent,
  PrepareJobStatus,
  TaskEntry,
} from "../shared/schemas.ts";
import { call, engineOn, inProcessEngine, json } from "./_inprocess.ts";
import * as sqlrs from "../mod.ts";
import { postgresUnder, Sandbox, stopServersUnder, waitFor } from "./_sandbox.ts";
import { testNeeding } from "./_needs.ts";
import { storeNeed } from "./_stores.ts";

/** psql against a DSN (as a client of the instance would connect); its stdout, or a thrown stderr. */
async function psql(dsn: string, sql: string): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command("psql", {
    args: ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql, dsn],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`psql exited ${code}: ${new TextDecoder().decode(stderr)}`);
  return new TextDecoder().decode(stdout).trim();
}

async function configure(engine: Engine, path: string, value: unknown): Promise<void> {
  await json(await call(engine, "PATCH", "/v1/config", JSON.stringify({ path, value })), 200);
}

/** A prepare through the fast path: a cache hit answers 200 with the finished job; else it is followed. */
async function prepare(engine: Engine, workDir: string, sql: string): Promise<PrepareJobStatus> {
  const body = JSON.stringify({ prepare_kind: "psql", psql_args: ["-c", sql], work_dir: workDir });
  const response = await call(engine, "POST", "/v1/prepare-jobs?wait=cached", body);
  if (response.status === 201) {
    const { job_id: jobId } = await response.json() as { job_id: string };
    await (await call(engine, "GET", `/v1/prepare-jobs/${jobId}/events`)).text();
    return await json<PrepareJobStatus>(await call(engine, "GET", `/v1/prepare-jobs/${jobId}`), 200);
  }
  const status = await json<PrepareJobStatus>(response, 200);
  assert.equal(status.status, "succeeded", JSON.stringify(status.error));
  return status;
}

async function listed(engine: Engine): Promise<string[]> {
  return (await json<InstanceEntry[]>(await call(engine, "GET", "/v1/instances"), 200)).map((entry) =>
    entry.instance_id
  );
}

/** The instance directories in the store: listed instances and warm ones. */
function instanceDirs(dir: string): string[] {
  try {
    return [...Deno.readDirSync(join(dir, "store", "instances"))].map((entry) => entry.name)
      .filter((name) => !name.startsWith("."));
  } catch {
    return [];
  }
}

/** Warm instances: directories no listed instance owns. */
async function warmIds(engine: Engine, dir: string): Promise<string[]> {
  const shown = new Set(await listed(engine));
  return instanceDirs(dir).filter((id) => !shown.has(id));
}

/** Waits until the pool has `count` ready warm instances and starts no more. */
async function poolReady(engine: Engine, count: number): Promise<boolean> {
  return await waitFor(async () => {
    const status = await json<PoolStatus>(await call(engine, "GET", "/v1/pool"), 200);
    const idle = Object.values(status.idle).reduce((sum, n) => sum + n, 0);
    return idle === count && status.starting === 0;
  }, 120_000);
}

const BASE = "create table base(id int); insert into base values (1)";

Deno.test("the pool hands 100 concurrent prepares distinct, isolated instances, the warm ones included", async () => {
  await using env = await inProcessEngine();
  const { engine, dir } = env;
  await configure(engine, "pool", { size: 10, maxIdle: 10, hotAfter: 1 });
  const first = await prepare(engine, dir, BASE);
  assert.ok(await poolReady(engine, 10), "the pool filled");
  const warm = await warmIds(engine, dir);
  const statuses = await Promise.all(Array.from({ length: 100 }, () => prepare(engine, dir, BASE)));
  const results = statuses.map((status) => status.result).filter((result) => result !== null);
  assert.equal(results.length, 100);
  assert.equal(new Set(results.map((result) => result.dsn)).size, 100);
  const handedOut = new Set(results.map((result) => result.instance_id));
  assert.equal(handedOut.size, 100);
  assert.ok(!handedOut.has(first.result?.instance_id ?? ""));
  // Every warm instance went to exactly one prepare.
  for (const id of warm) assert.ok(handedOut.has(id), `warm instance ${id} was handed out`);
  // Each is its own database: a table made in one is in no other.
  for (let i = 0; i < results.length; i += 10) {
    await Promise.all(
      results.slice(i, i + 10).map(async (result, j) => {
        const seen = await psql(
          result.dsn,
          `create table mine_${i + j}(); select count(*) from pg_tables where tablename like 'mine\\_%'`,
        );
        assert.equal(seen, "1", result.instance_id);
        assert.equal(await psql(result.dsn, "select count(*) from base"), "1");
      }),
    );
  }
  const shown = new Set(await listed(engine));
  for (const id of handedOut) assert.ok(shown.has(id));
});

Deno.test("a hand-out from the pool is recorded as a job that made its instance is: tasks, events, listings", async () => {
  await using env = await inProcessEngine();
  const { engine, dir } = env;
  await configure(engine, "pool", { size: 1, maxIdle: 1, hotAfter: 2 });
  await prepare(engine, dir, BASE);
  // A cache hit with nothing warm yet: the job makes its instance (and makes the state hot).
  const made = await prepare(engine, dir, BASE);
  assert.ok(await poolReady(engine, 1), "the pool filled");
  const [warm] = await warmIds(engine, dir);
  const pooled = await prepare(engine, dir, BASE);
  assert.equal(pooled.result?.instance_id, warm, "handed out from the pool");
  assert.deepEqual(
    { ...pooled, job_id: "", created_at: "", started_at: "", finished_at: "", result: null },
    { ...made, job_id: "", created_at: "", started_at: "", finished_at: "", result: null },
  );
  assert.ok(pooled.started_at !== null && pooled.finished_at !== null);
  const taskStatuses = async (jobId: string) =>
    (await json<TaskEntry[]>(await call(engine, "GET", `/v1/tasks?job=${jobId}`), 200))
      .map((task) => `${task.task_id}:${task.status}`);
  assert.deepEqual(await taskStatuses(pooled.job_id), await taskStatuses(made.job_id));
  assert.deepEqual(await taskStatuses(pooled.job_id), [
    "plan:succeeded",
    "resolve-image:succeeded",
    "execute-0:skipped",
    "prepare-instance:succeeded",
  ]);
  // A client following its events sees the result, then the end.
  const events = (await (await call(engine, "GET", `/v1/prepare-jobs/${pooled.job_id}/events`)).text())
    .trim().split("\n").map((line) => JSON.parse(line) as PrepareJobEvent);
  assert.deepEqual(events.slice(-2).map((event) => event.type), ["result", "status"]);
  assert.deepEqual(events.at(-2)?.result, pooled.result);
  assert.equal(events.at(-1)?.status, "succeeded");
  const jobs = await json<PrepareJobEntry[]>(await call(engine, "GET", "/v1/prepare-jobs"), 200);
  assert.equal(jobs.find((job) => job.job_id === pooled.job_id)?.status, "succeeded");
  const instance = await json<InstanceEntry>(await call(engine, "GET", `/v1/instances/${warm}`), 200);
  assert.equal(instance.state_id, made.result?.state_id);
  assert.equal(await psql(pooled.result?.dsn ?? "", "select count(*) from base"), "1");
});

Deno.test("a batch of prepares answers each as it would alone, in order: warm, made, refused", async () => {
  await using env = await inProcessEngine();
  const { engine, dir } = env;
  await configure(engine, "pool", { size: 2, maxIdle: 2, hotAfter: 1 });
  await prepare(engine, dir, BASE);
  assert.ok(await poolReady(engine, 2), "the pool filled");
  const warm = await warmIds(engine, dir);
  const request = { prepare_kind: "psql", psql_args: ["-c", BASE], work_dir: dir };
  const uncached = { ...request, psql_args: ["-c", "create table other(id int)"] };
  const requests = [request, { ...request, psql_args: "not a list" }, request, request, uncached];
  const response = await call(engine, "POST", "/v1/prepare-jobs/batch", JSON.stringify({ requests }));
  const { answers } = await json<PrepareBatchResponse>(response, 200);
  assert.deepEqual(answers.map((answer) => answer.status), [200, 400, 200, 200, 201]);
  const results = [0, 2, 3].map((index) => (answers[index]?.body as PrepareJobStatus).result);
  // Two from the pool, one made: three instances, each its own.
  assert.equal(new Set(results.map((result) => result?.instance_id)).size, 3);
  assert.equal(results.filter((result) => warm.includes(result?.instance_id ?? "")).length, 2);
  for (const result of results) assert.equal(await psql(result?.dsn ?? "", "select count(*) from base"), "1");
  assert.equal((answers[1]?.body as { code: string }).code, "invalid_argument");
  const accepted = answers[4]?.body as { job_id: string };
  await (await call(engine, "GET", `/v1/prepare-jobs/${accepted.job_id}/events`)).text();
  const built = await json<PrepareJobStatus>(
    await call(engine, "GET", `/v1/prepare-jobs/${accepted.job_id}`),
    200,
  );
  assert.equal(built.status, "succeeded");
  // A malformed batch is refused as a whole.
  await json(await call(engine, "POST", "/v1/prepare-jobs/batch", JSON.stringify({ requests: [] })), 400);
});

Deno.test("a batch past the instance cap: the hand-outs within it succeed, the others are refused and their warm instances removed", async () => {
  await using env = await inProcessEngine();
  const { engine, dir } = env;
  await configure(engine, "pool", { size: 3, maxIdle: 3, hotAfter: 1 });
  await prepare(engine, dir, BASE);
  assert.ok(await poolReady(engine, 3), "the pool filled");
  const warm = await warmIds(engine, dir);
  await configure(engine, "pool", { size: 0, maxIdle: 3, hotAfter: 1 });
  // One instance exists: room for two more.
  await configure(engine, "instances.max", 3);
  const request = { prepare_kind: "psql", psql_args: ["-c", BASE], work_dir: dir };
  const body = JSON.stringify({ requests: [request, request, request] });
  const { answers } = await json<PrepareBatchResponse>(
    await call(engine, "POST", "/v1/prepare-jobs/batch", body),
    200,
  );
  const codes = answers.map((answer) => (answer.body as { code?: string }).code ?? String(answer.status));
  assert.deepEqual(codes.sort(), ["200", "200", "instance_limit"]);
  const shown = new Set(await listed(engine));
  assert.equal(shown.size, 3);
  // The third warm instance was taken, refused, and removed: neither listed nor left in the store.
  assert.ok(await waitFor(() => Promise.resolve(instanceDirs(dir).length === 3), 30_000), "its files went");
  assert.equal(warm.filter((id) => shown.has(id)).length, 2);
});

Deno.test("warm instances are not listed until handed out, and neither a stopped nor a crashed engine leaks one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sqlrs-pool-" });
  await Deno.chmod(dir, 0o755);
  try {
    let engine = await engineOn(dir);
    await configure(engine, "pool", { size: 2 });
    // The first prepare of a state works as without a pool: nothing warm is started for it.
    const first = await prepare(engine, dir, BASE);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.deepEqual(await warmIds(engine, dir), []);
    // The second makes it hot (pool.hotAfter = 2): two warm instances, running, not listed.
    await prepare(engine, dir, BASE);
    assert.ok(await poolReady(engine, 2), "the pool filled");
    const warm = await warmIds(engine, dir);
    assert.equal(postgresUnder(dir).length, 4);
    const shownBefore = await listed(engine);
    assert.equal(shownBefore.length, 2);
    for (const id of warm) assert.ok(!shownBefore.includes(id));
    for (const id of warm) {
      await json(await call(engine, "GET", `/v1/instances/${id}`), 404);
    }
    // Handed out, a warm instance is listed like any other.
    const third = await prepare(engine, dir, BASE);
    assert.ok(warm.includes(third.result?.instance_id ?? ""));
    assert.ok((await listed(engine)).includes(third.result?.instance_id ?? ""));

    // A crash (no stop): the next engine stops the warm servers and removes their directories.
    assert.ok(await poolReady(engine, 2), "the pool filled");
    engine.close();
    engine = await engineOn(dir);
    const shown = await listed(engine);
    assert.equal(shown.length, 3);
    assert.deepEqual(instanceDirs(dir).sort(), [...shown].sort());
    assert.equal(postgresUnder(dir).length, 3);
    assert.equal(await psql(first.result?.dsn ?? "", "select count(*) from base"), "1");

    // A stop drains the pool.
    await configure(engine, "pool.hotAfter", 1);
    await prepare(engine, dir, BASE);
    assert.ok(await poolReady(engine, 2), "the pool filled");
    await engine.stop();
    engine.close();
    assert.equal(instanceDirs(dir).length, 4);
    assert.equal(postgresUnder(dir).length, 4);
  } finally {
    await stopServersUnder(dir);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("reset keeps the DSN and discards every change, with and without a warm instance", async () => {
  await using env = await inProcessEngine();
  const { engine, dir } = env;
  const prepared = await prepare(engine, dir, BASE);
  const result = prepared.result;
  assert.ok(result !== null);
  await psql(result.dsn, "insert into base values (2); create table scratch()");
  const reset = await json<InstanceEntry>(
    await call(engine, "POST", `/v1/instances/${result.instance_id}/reset`),
    200,
  );
  assert.equal(reset.dsn, result.dsn);
  assert.equal(await psql(result.dsn, "select count(*) from base"), "1");
  assert.equal(await psql(result.dsn, "select count(*) from pg_tables where tablename = 'scratch'"), "0");

  // With a warm instance of the state: its clone is taken, and its role goes with it.
  await configure(engine, `pool.states.${result.state_id}`, 1);
  await prepare(engine, dir, BASE);
  assert.ok(await poolReady(engine, 1), "the pool filled");
  const [warm] = await warmIds(engine, dir);
  await psql(result.dsn, "insert into base values (3)");
  const again = await json<InstanceEntry>(
    await call(engine, "POST", `/v1/instances/${result.instance_id}/reset`),
    200,
  );
  assert.equal(again.dsn, result.dsn);
  assert.ok(!instanceDirs(dir).includes(warm ?? ""), "the warm instance was used");
  assert.equal(await psql(result.dsn, "select count(*) from base"), "1");
  assert.equal(
    await psql(result.dsn, "select string_agg(rolname, ',') from pg_roles where rolname like 'sqlrs\\_%'"),
    `sqlrs_${result.instance_id}`,
  );
  await json(await call(engine, "POST", "/v1/instances/nosuchinstance/reset"), 404);
});

for (const backend of ["btrfs", "overlay"] as const) {
  const how = backend === "btrfs"
    ? "a clone made while the server stops, moved into place"
    : "a clone in place";
  testNeeding(
    await storeNeed(backend),
    `reset on ${backend} (${how}) keeps the DSN and discards every change`,
    async () => {
      await using env = await inProcessEngine(backend);
      const { engine, dir } = env;
      const result = (await prepare(engine, dir, BASE)).result;
      assert.ok(result !== null);
      for (const value of [2, 3]) {
        await psql(result.dsn, `insert into base values (${value}); create table scratch${value}()`);
        const answer: InstanceEntry = await json<InstanceEntry>(
          await call(engine, "POST", `/v1/instances/${result.instance_id}/reset`),
          200,
        );
        assert.equal(answer.dsn, result.dsn);
        assert.equal(await psql(result.dsn, "select count(*) from base"), "1");
        assert.equal(
          await psql(result.dsn, "select count(*) from pg_tables where tablename like 'scratch%'"),
          "0",
        );
      }
      const instanceDir = join(dir, "store", "instances", result.instance_id);
      const cleaned = await waitFor(
        () => [...Deno.readDirSync(instanceDir)].every((entry) => !entry.name.startsWith("data.")),
        10_000,
      );
      assert.ok(cleaned, "the replaced clones are removed");
    },
  );
}

Deno.test("a mod.ts session prepares from a recipe's pool, db.reset() and sqlrs reset keep the DSN", async () => {
  await using sandbox = await Sandbox.create();
  await Deno.mkdir(join(sandbox.dir, ".sqlrs"));
  await Deno.writeTextFile(
    join(sandbox.dir, ".sqlrs", "config.yaml"),
    `recipes:\n  dev:\n    kind: psql\n    args: [-c, "${BASE}"]\n    pool: 1\n`,
  );
  // The CLI's recipe asks for a pool of 1 for its state: the next prepare takes the warm instance.
  const first = JSON.parse((await sandbox.cliOk(["--output", "json", "prepare", "dev"])).stdout);
  const client = await sandbox.client();
  assert.ok(
    await waitFor(async () => {
      const status = await (await client.request("GET", "/v1/pool")).json() as PoolStatus;
      return status.idle[first.state_id] === 1 && status.starting === 0;
    }, 60_000),
  );
  using session = await sqlrs.session({ env: sandbox.env, cwd: sandbox.dir });
  await using db = await session.prepare({ psql: ["-c", BASE] });
  assert.equal(db.stateId, first.state_id);
  const warm = await (await client.request("GET", "/v1/pool")).json() as PoolStatus;
  assert.equal(warm.idle[first.state_id] ?? 0, 0, "the warm instance was handed out");
  await db.run({ psql: ["-c", "insert into base values (2)"] });
  await db.reset();
  assert.equal(await psql(db.dsn, "select count(*) from base"), "1");
  await psql(first.dsn, "insert into base values (2)");
  const reset = await sandbox.cliOk(["reset", first.instance_id]);
  assert.equal(reset.stdout.trim(), `DSN=${first.dsn}`);
  assert.equal(await psql(first.dsn, "select count(*) from base"), "1");
  // Prepares made together go in one request, each with its own instance.
  const together = await Promise.all(
    Array.from({ length: 5 }, () => session.prepare({ psql: ["-c", BASE] })),
  );
  assert.equal(new Set(together.map((each) => each.dsn)).size, 5);
  const batches = (await Deno.readTextFile(join(sandbox.stateDir, "logs", "engine.log")))
    .split("\n").filter((line) => line.includes("POST /v1/prepare-jobs/batch 200"));
  assert.equal(batches.length, 1);
  await Promise.all(together.map((each) => each.delete()));
});
