/**
 * Deadlines on real PostgreSQL, from a directory outside the checkout: `--deadline` cancels a prepare
 * job that runs too long (exit 1, a clear error); `--statement-timeout` fails a step or a run whose
 * statement runs too long, is not part of a state's key, and reaches the run stage of a composite.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Sandbox } from "./_sandbox.ts";
import { need, testNeeding } from "./_needs.ts";
import { liquibaseAvailable } from "./_liquibase.ts";
import * as sqlrs from "../mod.ts";

Deno.test("--deadline cancels a prepare job that outlives it: exit 1, the job cancelled, a clear error", async () => {
  await using sandbox = await Sandbox.create();
  const late = await sandbox.cli(["prepare:psql", "--deadline", "2s", "--", "-c", "select pg_sleep(60)"]);
  assert.equal(late.code, 1, late.stderr);
  assert.match(
    late.stderr,
    /^sqlrs: Job [0-9a-f]{32} was cancelled: Deadline exceeded: .*--deadline of 2s$/m,
  );
  assert.equal(late.stdout, "");
  const jobs = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--jobs"])).stdout).jobs;
  assert.deepEqual(jobs.map((job: { status: string }) => job.status), ["cancelled"]);
  const bad = await sandbox.cli(["prepare:psql", "--deadline", "soon", "--", "-c", "select 1"]);
  assert.equal(bad.code, 2, bad.stderr);
  const inTime = await sandbox.cli(["prepare:psql", "--deadline", "10m", "--", "-c", "select 1"]);
  assert.equal(inTime.code, 0, inTime.stderr);
});

Deno.test("--statement-timeout fails a step whose statement runs longer; one that does not fire is not keyed", async () => {
  await using sandbox = await Sandbox.create();
  const slow = ["-c", "select pg_sleep(3)"];
  const timedOut = await sandbox.cli(["prepare:psql", "--statement-timeout", "1s", "--", ...slow]);
  assert.equal(timedOut.code, 1, timedOut.stderr);
  assert.match(timedOut.stderr, /canceling statement due to statement timeout/);
  // Steps of a series may share one psql process, which resets the session between them: the timeout stays.
  const series = ["-c", "create table s(id int)", "-c", "select 1", ...slow];
  const inSeries = await sandbox.cli(["prepare:psql", "--statement-timeout", "1s", "--", ...series]);
  assert.equal(inSeries.code, 1, inSeries.stderr);
  assert.match(inSeries.stderr, /failed +\[3\/3\][\s\S]*canceling statement due to statement timeout/);
  // The failure left no state behind: without the timeout the same step runs (not cached) and succeeds.
  const plain = await sandbox.cli(["--output", "json", "prepare:psql", "--", ...slow]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stderr, /0 cached, 1 ran/);
  // A timeout that does not fire leaves the state as it is: the same key, found cached.
  const keyed = ["-c", "create table k(id int)"];
  await sandbox.cliOk(["prepare:psql", "--statement-timeout", "1m", "--", ...keyed]);
  const plan = JSON.parse((await sandbox.cliOk(["--output", "json", "plan:psql", "--", ...keyed])).stdout);
  assert.equal(plan.tasks.find((task: { type: string }) => task.type === "state_execute").cached, true);
});

Deno.test("--statement-timeout reaches run:psql and a composite's run stage", async () => {
  await using sandbox = await Sandbox.create();
  const prepared = JSON.parse(
    (await sandbox.cliOk(["--output", "json", "prepare:psql", "--", "-c", "select 1"])).stdout,
  );
  const shown = await sandbox.cliOk([
    "run:psql",
    "--instance",
    prepared.instance_id,
    "--statement-timeout",
    "1500ms",
    "--",
    "-Atc",
    "show statement_timeout",
  ]);
  assert.equal(shown.stdout, "1500ms\n");
  const fired = await sandbox.cli([
    "run:psql",
    "--instance",
    prepared.instance_id,
    "--statement-timeout",
    "1s",
    "--",
    "-c",
    "select pg_sleep(3)",
  ]);
  assert.notEqual(fired.code, 0);
  assert.match(fired.stderr, /canceling statement due to statement timeout/);
  // The prepare's timeout applies to the run stage too, unless the run stage sets its own.
  const inherited = await sandbox.cli([
    "prepare:psql",
    "--statement-timeout",
    "2s",
    "--",
    "-c",
    "select 1",
    "run:psql",
    "--",
    "-Atc",
    "show statement_timeout",
  ]);
  assert.equal(inherited.code, 0, inherited.stderr);
  assert.equal(inherited.stdout, "2s\n");
  const own = await sandbox.cliOk([
    "prepare:psql",
    "--statement-timeout",
    "2s",
    "--",
    "-c",
    "select 1",
    "run:psql",
    "--statement-timeout",
    "5s",
    "--",
    "-Atc",
    "show statement_timeout",
  ]);
  assert.equal(own.stdout, "5s\n");
});

Deno.test("help says how --deadline and --statement-timeout differ from --timeout", async () => {
  await using sandbox = await Sandbox.create();
  const help = (await sandbox.cliOk(["prepare:psql", "--help"])).stdout.replace(/\s+/g, " ");
  assert.match(help, /--deadline <duration> cancel the job .* unlike --timeout/);
  assert.match(help, /--statement-timeout <duration> PostgreSQL's statement_timeout .* unlike --timeout/);
  const runHelp = (await sandbox.cliOk(["run:psql", "--help"])).stdout.replace(/\s+/g, " ");
  assert.match(runHelp, /--statement-timeout <duration> PostgreSQL's statement_timeout/);
});

testNeeding(
  need(await liquibaseAvailable(), "Liquibase and Java (scripts/install-liquibase.sh)"),
  "--statement-timeout reaches Liquibase changesets: a slow one fails, the ones before it ran",
  async () => {
    await using sandbox = await Sandbox.create();
    await Deno.writeTextFile(
      join(sandbox.dir, "changelog.sql"),
      "--liquibase formatted sql\n\n--changeset me:one\ncreate table one(id int);\n\n--changeset me:slow\nselect pg_sleep(3);\n",
    );
    const result = await sandbox.cli([
      "prepare:lb",
      "--statement-timeout",
      "1s",
      "--",
      "update",
      "--changelog-file",
      "changelog.sql",
    ]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /failed +\[2\/2\] slow/);
    assert.match(result.stderr, /canceling statement due to statement timeout/);
  },
);

Deno.test("a workspace's defaults give the deadline and statement timeout; flags win over them", async () => {
  await using sandbox = await Sandbox.create();
  const workspace = join(sandbox.dir, "w");
  await Deno.mkdir(join(workspace, ".sqlrs"), { recursive: true });
  await Deno.writeTextFile(
    join(workspace, ".sqlrs", "config.yaml"),
    "defaults:\n  deadline: 2s\n  statementTimeout: 1500ms\n",
  );
  // The first prepare also makes the image's base: its own --deadline keeps a loaded machine in time.
  const shown = await sandbox.cliOk(
    [
      "prepare:psql",
      "--deadline",
      "5m",
      "--",
      "-c",
      "select 1",
      "run:psql",
      "--",
      "-Atc",
      "show statement_timeout",
    ],
    { cwd: workspace },
  );
  assert.equal(shown.stdout, "1500ms\n");
  // Statements each within the statement timeout, together past the deadline.
  const sleeps = Array.from({ length: 4 }, (_, i) => ["-c", `select ${i}, pg_sleep(0.8)`]).flat();
  const late = await sandbox.cli(["prepare:psql", "--", ...sleeps], { cwd: workspace });
  assert.equal(late.code, 1, late.stderr);
  assert.match(late.stderr, /Deadline exceeded: .*--deadline of 2s/);
  const own = await sandbox.cliOk([
    "prepare:psql",
    "--deadline",
    "5m",
    "--statement-timeout",
    "1m",
    "--",
    "-c",
    "select 3",
    "run:psql",
    "--",
    "-Atc",
    "show statement_timeout",
  ], { cwd: workspace });
  assert.equal(own.stdout, "1min\n");
});

Deno.test("mod.ts takes deadline and statementTimeout, and defaults them from the workspace config", async () => {
  await using sandbox = await Sandbox.create();
  const options = { env: sandbox.env, cwd: sandbox.dir };
  await assert.rejects(
    sqlrs.prepare({ ...options, deadline: "2s", psql: ["-c", "select pg_sleep(60)"] }),
    (error) => {
      assert.ok(error instanceof sqlrs.SqlrsError);
      assert.equal(error.code, "cancelled");
      assert.match(error.message, /Deadline exceeded: .*deadline of 2s/);
      return true;
    },
  );
  await assert.rejects(
    sqlrs.prepare({ ...options, statementTimeout: "1s", psql: ["-c", "select pg_sleep(3)"] }),
    /canceling statement due to statement timeout/,
  );
  await using db = await sqlrs.prepare({ ...options, psql: ["-c", "select 1"] });
  const fired = await db.run({ statementTimeout: "1s", psql: ["-c", "select pg_sleep(3)"] });
  assert.notEqual(fired.exitCode, 0);
  assert.match(fired.stderr, /canceling statement due to statement timeout/);

  const workspace = join(sandbox.dir, "w");
  await Deno.mkdir(join(workspace, ".sqlrs"), { recursive: true });
  await Deno.writeTextFile(
    join(workspace, ".sqlrs", "config.yaml"),
    "defaults:\n  statementTimeout: 1500ms\n",
  );
  const shown = await sqlrs.run({
    ...options,
    cwd: workspace,
    instance: db.instanceId,
    psql: ["-Atc", "show statement_timeout"],
  });
  assert.equal(shown.stdout, "1500ms\n");
});
