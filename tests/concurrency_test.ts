/**
 * Parallel workers on real PostgreSQL (host runtime): many identical cold prepares at once, with and
 * without `--no-watch`; concurrent prepares for one name; and an instance whose server was killed.
 * Every client must get its own working instance, and each step must be built once.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type CliResult, Sandbox, waitFor } from "./_sandbox.ts";
import { hostPsql, prepare } from "./_prepare_suite.ts";

const WORKERS = 20;

/** Three `-f` step files with content unique to this test run (a cold cache). */
async function writeSteps(sandbox: Sandbox): Promise<string[]> {
  const tag = crypto.randomUUID().slice(0, 8);
  const steps = [
    `create table a as select '${tag}' as tag;`,
    "select pg_sleep(0.3); create table b as select count(*) as n from a;",
    "create table c as select n + 1 as n from b;",
  ];
  const args: string[] = [];
  for (const [i, sql] of steps.entries()) {
    await Deno.writeTextFile(join(sandbox.dir, `step${i}.sql`), sql);
    args.push("-f", `step${i}.sql`);
  }
  return args;
}

/**
 * How many times each step was executed (not a cache hit), from the `-v` event lines of the clients,
 * and how many of those executions kept a state (the others say "not kept": their result is part of a
 * later state).
 */
function executions(results: readonly CliResult[]): { counts: Map<string, number>; kept: number } {
  const counts = new Map<string, number>();
  let kept = 0;
  for (const result of results) {
    for (const match of result.stderr.matchAll(/ (execute-\d+) succeeded( \(not kept\))?$/gm)) {
      counts.set(match[1] as string, (counts.get(match[1] as string) ?? 0) + 1);
      if (match[2] === undefined) kept++;
    }
  }
  return { counts, kept };
}

/** Each step ran in exactly one job, and the store holds exactly the states those runs kept. */
async function assertBuiltOnce(sandbox: Sandbox, results: readonly CliResult[]): Promise<void> {
  const { counts, kept } = executions(results);
  assert.deepEqual(
    [...counts].sort(),
    [["execute-0", 1], ["execute-1", 1], ["execute-2", 1]],
    "each step executed by exactly one job",
  );
  const states = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--states"])).stdout).states;
  assert.equal(states.length, kept, "one state per kept step");
  assert.ok(kept >= 2, "the last state and the one before it are kept");
}

/** Every client exited 0 with its own DSN, and every DSN connects to a database with the steps' data. */
async function assertDelivered(results: readonly CliResult[]): Promise<void> {
  const failed = results.filter((result) => result.code !== 0);
  assert.deepEqual(
    failed.map((result) => `exit ${result.code}: ${result.stderr.trim().split("\n").pop()}`),
    [],
    `${failed.length} of ${results.length} clients failed`,
  );
  const dsns = results.map((result) => JSON.parse(result.stdout).dsn as string);
  assert.equal(new Set(dsns).size, results.length, "distinct DSNs");
  for (const dsn of dsns) {
    const query = await hostPsql(dsn, "select n from c");
    assert.deepEqual([query.code, query.stdout], [0, "2"], `${dsn}: ${query.stderr}`);
  }
}

Deno.test(`${WORKERS} identical cold prepares at once: all exit 0 with distinct working DSNs, each step built once`, async () => {
  await using sandbox = await Sandbox.create();
  await sandbox.cliOk(["status"]);
  const steps = await writeSteps(sandbox);
  const results = await Promise.all(
    Array.from(
      { length: WORKERS },
      () => sandbox.cli(["-v", "--output", "json", "prepare:psql", "--", ...steps]),
    ),
  );
  await assertDelivered(results);
  await assertBuiltOnce(sandbox, results);
});

Deno.test(`${WORKERS} identical cold prepares with --no-watch, then ${WORKERS} watches: every job is found and delivers its instance`, async () => {
  await using sandbox = await Sandbox.create();
  await sandbox.cliOk(["status"]);
  const steps = await writeSteps(sandbox);
  const submitted = await Promise.all(
    Array.from(
      { length: WORKERS },
      () => sandbox.cliOk(["--output", "json", "prepare:psql", "--no-watch", "--", ...steps]),
    ),
  );
  const jobIds = submitted.map((result) => JSON.parse(result.stdout).job_id as string);
  assert.equal(new Set(jobIds).size, WORKERS);
  const results = await Promise.all(
    jobIds.map((jobId) => sandbox.cli(["-v", "--output", "json", "watch", jobId])),
  );
  await assertDelivered(results);
  // The watches replay every event from the start.
  await assertBuiltOnce(sandbox, results);
});

Deno.test("retention never deletes a job before a client read it: three --no-watch prepares, then a watch of each", async () => {
  await using sandbox = await Sandbox.create();
  await Deno.writeTextFile(join(sandbox.dir, "w.sql"), "create table w(id int);");
  const jobIds: string[] = [];
  for (let i = 0; i < 3; i++) {
    const result = await sandbox.cliOk([
      "--output",
      "json",
      "prepare:psql",
      "--no-watch",
      "--",
      "-f",
      "w.sql",
    ]);
    jobIds.push(JSON.parse(result.stdout).job_id);
  }
  using client = await sandbox.client();
  assert.ok(
    await waitFor(async () => (await client.listJobs()).every((job) => job.status === "succeeded"), 60_000),
  );
  for (const jobId of jobIds) {
    const watched = await sandbox.cli(["--output", "json", "watch", jobId]);
    assert.equal(watched.code, 0, watched.stderr);
    assert.equal((await hostPsql(JSON.parse(watched.stdout).dsn, "select count(*) from w")).stdout, "0");
  }
  // Collected, the oldest is now beyond orchestrator.jobs.maxIdentical (2) and goes.
  assert.equal((await client.listJobs()).length, 2);
});

Deno.test("10 concurrent prepares for one --name without --rebind: exactly one exits 0, the others exit 2", async () => {
  await using sandbox = await Sandbox.create();
  await sandbox.cliOk(["status"]);
  const results = await Promise.all(
    Array.from(
      { length: 10 },
      (_, i) =>
        sandbox.cli([
          "--output",
          "json",
          "prepare:psql",
          "--name",
          "shared",
          "--",
          "-c",
          `create table t${i}(id int)`,
        ]),
    ),
  );
  const codes = results.map((result) => result.code).sort();
  assert.deepEqual(codes, [0, 2, 2, 2, 2, 2, 2, 2, 2, 2], results.map((r) => r.stderr).join("\n"));
  for (const result of results.filter((r) => r.code === 2)) assert.match(result.stderr, /Name "shared"/);
  const winner = JSON.parse((results.find((result) => result.code === 0) as CliResult).stdout);
  const names = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--names"])).stdout).names;
  assert.deepEqual(names.map((n: { name: string; instance_id: string }) => [n.name, n.instance_id]), [[
    "shared",
    winner.instance_id,
  ]]);
  // A failed job gives its reservation back.
  await sandbox.cliOk(["rm", "shared"]);
  const failed = await sandbox.cli(["prepare:psql", "--name", "again", "--", "-c", "select broken"]);
  assert.equal(failed.code, 1, failed.stderr);
  await sandbox.cliOk(["prepare:psql", "--name", "again", "--", "-c", "select 1"]);
});

Deno.test("an instance whose postmaster was SIGKILLed restarts on its port: run:psql works and the original DSN connects", async () => {
  await using sandbox = await Sandbox.create();
  const prepared = await prepare(sandbox, ["-c", "create table kept as select 42 as v"]);
  const before =
    JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--instances"])).stdout).instances[0];
  // Keep a backend busy, so that a killed postmaster leaves an orphan holding its shared memory.
  const busy = new Deno.Command("psql", {
    args: [prepared.dsn, "-X", "-c", "select pg_sleep(3)"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await new Promise((resolve) => setTimeout(resolve, 500));
  Deno.kill(Number(before.runtime_id), "SIGKILL");
  assert.notEqual((await hostPsql(prepared.dsn, "select 1")).code, 0, "the server is gone");
  const ran = await sandbox.query(prepared.instance_id, "select v from kept");
  assert.deepEqual([ran.code, ran.stdout], [0, "42\n"], ran.stderr);
  const after = await hostPsql(prepared.dsn, "select v from kept");
  assert.deepEqual([after.code, after.stdout], [0, "42"], after.stderr);
  await busy.status;
});
