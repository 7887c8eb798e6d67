/**
 * `mod.ts`, the typed client, in-process against real engines and real PostgreSQL: prepare, run,
 * dispose, ls, rm, plan, watch, failures and cancellation. Each test has its own sandbox, passed
 * through the `env` option rather than `Deno.env` (test files share the process environment).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import * as sqlrs from "../mod.ts";
import { Sandbox } from "./_sandbox.ts";

/** Client options pointing at a sandbox. */
function inSandbox(sandbox: Sandbox): sqlrs.ClientOptions {
  return { env: sandbox.env, cwd: sandbox.dir };
}

Deno.test("prepare() gives a running instance that run() queries and disposal deletes", async () => {
  await using sandbox = await Sandbox.create();
  const options = inSandbox(sandbox);
  await Deno.writeTextFile(
    join(sandbox.dir, "schema.sql"),
    "create table t(id int);\ninsert into t values (1), (2);\n",
  );
  let instanceId: string;
  let stateId: string;
  {
    await using db = await sqlrs.prepare({ ...options, psql: ["-f", "schema.sql"] });
    instanceId = db.instanceId;
    stateId = db.stateId;
    assert.match(db.instanceId, /^[0-9a-f]{32}$/);
    // Each instance has its own role (see engine/instances/credentials.ts).
    assert.match(
      db.dsn,
      new RegExp(`^postgres://sqlrs_${db.instanceId}:[0-9a-f]+@127\\.0\\.0\\.1:\\d+/postgres$`),
    );
    assert.match(db.stateId, /^[0-9a-f]{64}$/);
    assert.match(db.jobId, /^[0-9a-f]{32}$/);
    assert.deepEqual(await db.run({ psql: ["-A", "-t", "-c", "select sum(id) from t"] }), {
      exitCode: 0,
      stdout: "3\n",
      stderr: "",
    });
    const [listed] = await sqlrs.ls("instances", options);
    assert.equal(listed?.instance_id, db.instanceId);
    assert.equal(listed?.state_id, db.stateId);
  }
  assert.deepEqual(await sqlrs.ls("instances", options), [], `instance ${instanceId} is deleted on dispose`);
  assert.deepEqual(
    (await sqlrs.ls("states", options)).map((state) => state.state_id),
    [stateId],
    "the state stays cached",
  );
});

Deno.test("prepare() resolves -f against cwd, and the CLI finds the engine mod.ts started", async () => {
  await using sandbox = await Sandbox.create();
  await Deno.mkdir(join(sandbox.dir, "db"));
  await Deno.writeTextFile(
    join(sandbox.dir, "db", "schema.sql"),
    "create table users(id int primary key);\n",
  );
  await using db = await sqlrs.prepare({
    env: sandbox.env,
    cwd: join(sandbox.dir, "db"),
    psql: ["-f", "schema.sql"],
  });
  const health = await (async () => {
    using client = await sqlrs.connect({ env: sandbox.env });
    return await client.health();
  })();
  assert.equal(health.instanceId, (await sandbox.engineInfo())?.instanceId);
  const listed = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--instances"])).stdout);
  assert.deepEqual(listed.instances.map((i: { instance_id: string }) => i.instance_id), [db.instanceId]);
  const run = await sandbox.query(db.instanceId, "select 1");
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "1\n");
});

Deno.test("run() returns a failing tool's exit code and stderr, streams output, feeds stdin", async () => {
  await using sandbox = await Sandbox.create();
  const options = inSandbox(sandbox);
  await using db = await sqlrs.prepare({ ...options, psql: ["-c", "create table t as select 1 as id"] });

  const failed = await db.run({ psql: ["-c", "select 1/0"] });
  assert.equal(failed.exitCode, 1);
  assert.match(failed.stderr, /division by zero/);

  const chunks: string[] = [];
  const streamed = await sqlrs.run({
    ...options,
    instance: db.instanceId,
    psql: ["-A", "-t", "-c", "select generate_series(1, 3)"],
    collect: false,
    onOutput: (stream, data) => void chunks.push(`${stream}:${new TextDecoder().decode(data)}`),
  });
  assert.deepEqual(streamed, { exitCode: 0, stdout: "", stderr: "" });
  assert.equal(chunks.join(""), "stdout:1\n2\n3\n");

  const viaStdin = await db.run({ psql: ["-A", "-t"], stdin: "select 40 + 2;" });
  assert.equal(viaStdin.stdout, "42\n");

  await Deno.writeTextFile(join(sandbox.dir, "q.sql"), "select count(*) from t;\n");
  const viaFile = await db.run({ psql: ["-A", "-t", "-f", "q.sql"] });
  assert.equal(viaFile.stdout, "1\n", "a run's -f resolves against the prepare's cwd");
});

Deno.test("plan() reports a prepared state's steps as cached, with the same final state", async () => {
  await using sandbox = await Sandbox.create();
  const options = inSandbox(sandbox);
  const psql = ["-c", "create table a(id int)", "-c", "create table b(id int)"];
  const before = await sqlrs.plan({ ...options, psql });
  assert.equal(before.cached, false);
  assert.deepEqual(before.tasks.filter((task) => task.type === "state_execute").length, 2);
  await using db = await sqlrs.prepare({ ...options, psql });
  const after = await sqlrs.plan({ ...options, psql });
  assert.equal(after.cached, true);
  assert.equal(after.finalStateId, db.stateId);
  assert.equal(before.finalStateId, db.stateId);
});

Deno.test("prepare() reports events to onEvent, and watch() replays the same typed events", async () => {
  await using sandbox = await Sandbox.create();
  const options = inSandbox(sandbox);
  const seen: sqlrs.PrepareJobEvent[] = [];
  await using db = await sqlrs.prepare({
    ...options,
    psql: ["-c", "select 1"],
    onEvent: (e) => seen.push(e),
  });
  assert.equal(seen.at(-1)?.type, "status");
  assert.equal(seen.at(-1)?.status, "succeeded");
  assert.equal(seen.find((event) => event.type === "result")?.result?.instance_id, db.instanceId);
  const watched: sqlrs.PrepareJobEvent[] = [];
  for await (const event of sqlrs.watch(db.jobId, options)) watched.push(event);
  assert.deepEqual(watched, seen);
  const fromThird: sqlrs.PrepareJobEvent[] = [];
  for await (const event of sqlrs.watch(db.jobId, { ...options, from: 2 })) fromThird.push(event);
  assert.deepEqual(fromThird, seen.slice(2));
});

Deno.test("prepare() rejects with step_failed and psql's error when a step fails", async () => {
  await using sandbox = await Sandbox.create();
  const options = inSandbox(sandbox);
  await assert.rejects(
    sqlrs.prepare({ ...options, psql: ["-c", "select * from no_such_table"] }),
    (error: unknown) => {
      assert.ok(error instanceof sqlrs.SqlrsError);
      assert.equal(error.code, "step_failed");
      assert.match(error.message, /no_such_table/);
      return true;
    },
  );
  assert.deepEqual(await sqlrs.ls("instances", options), []);
  await assert.rejects(sqlrs.prepare({ ...options }), TypeError, "psql or liquibase is required");
});

Deno.test("prepare() with an aborted signal cancels the job and leaves no instance", async () => {
  await using sandbox = await Sandbox.create();
  const options = inSandbox(sandbox);
  const abort = new AbortController();
  const started = Date.now();
  const prepared = sqlrs.prepare({
    ...options,
    psql: ["-c", "select pg_sleep(60)"],
    signal: abort.signal,
    onEvent: (event) => {
      if (event.type === "task" && event.status === "running") abort.abort();
    },
  });
  await assert.rejects(prepared, (error: unknown) => {
    assert.ok(error instanceof sqlrs.SqlrsError);
    assert.equal(error.code, "cancelled");
    return true;
  });
  assert.ok(Date.now() - started < 30_000, "the step was interrupted, not waited for");
  assert.deepEqual(await sqlrs.ls("instances", options), []);
  const [job] = await sqlrs.ls("jobs", options);
  assert.equal(job?.status, "cancelled");
});

Deno.test("rm() deletes an instance by name; a ref that matches nothing is not_found", async () => {
  await using sandbox = await Sandbox.create();
  const options = inSandbox(sandbox);
  const db = await sqlrs.prepare({ ...options, psql: ["-c", "select 1"], name: "dev" });
  assert.equal(db.name, "dev");
  assert.deepEqual((await sqlrs.ls("names", options)).map((n) => [n.name, n.instance_id]), [[
    "dev",
    db.instanceId,
  ]]);
  const dryRun = await sqlrs.rm("dev", { ...options, dryRun: true });
  assert.equal(dryRun.outcome, "would_delete");
  const result = await sqlrs.rm("dev", options);
  assert.equal(result.outcome, "deleted");
  assert.equal(result.root.kind, "instance");
  assert.equal(result.root.id, db.instanceId);
  assert.deepEqual(await sqlrs.ls("instances", options), []);
  await db[Symbol.asyncDispose](); // already gone: disposal is a no-op, not an error
  await assert.rejects(sqlrs.rm("no-such-thing", options), (error: unknown) => {
    assert.ok(error instanceof sqlrs.SqlrsError);
    assert.equal(error.code, "not_found");
    return true;
  });
});

Deno.test("status() and ls() work against an engine that connect() started", async () => {
  await using sandbox = await Sandbox.create();
  const options = inSandbox(sandbox);
  const status = await sqlrs.status(options);
  assert.equal(status.ok, true);
  assert.equal(status.stateDir, sandbox.stateDir);
  assert.deepEqual(await sqlrs.ls("jobs", options), []);
  assert.deepEqual(await sqlrs.ls("tasks", options), []);
  // An engine started by mod.ts runs this checkout's engine/main.ts.
  const cmdline = await Deno.readTextFile(`/proc/${status.pid}/cmdline`);
  assert.match(cmdline, /engine\/main\.ts/);
});
