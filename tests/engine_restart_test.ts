/**
 * Clients against an engine that goes away (`engine stop`, SIGTERM) while they work, on real
 * PostgreSQL (host runtime): a command exits 0 only when it did what it says. A CLI or `mod.ts`
 * whose engine stops mid-job reconnects (starting a new engine, which resumes the job) and follows
 * it to its end; CLIs racing `engine stop` start a new engine instead of exiting 3.
 */

import assert from "node:assert/strict";
import * as sqlrs from "../mod.ts";
import { CLI, type CliResult, processAlive, runProgram, Sandbox, waitFor } from "./_sandbox.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts `sqlrs <args>` without waiting for it. */
function startCli(sandbox: Sandbox, args: readonly string[]): Promise<CliResult> {
  return runProgram(Deno.execPath(), ["run", "-A", "--quiet", CLI, ...args], {
    cwd: sandbox.dir,
    env: sandbox.env,
  });
}

/** Stops the running engine the way `how` says and waits until it is gone. */
async function stopEngine(sandbox: Sandbox, how: "engine stop" | "SIGTERM"): Promise<void> {
  if (how === "engine stop") {
    const stop = await sandbox.cli(["engine", "stop"]);
    assert.equal(stop.code, 0, stop.stderr);
    return;
  }
  const info = await sandbox.engineInfo();
  if (info === undefined) return;
  try {
    Deno.kill(info.pid, "SIGTERM");
  } catch {
    return; // gone already
  }
  assert.ok(await waitFor(() => !processAlive(info.pid), 30_000), "the engine exits on SIGTERM");
}

Deno.test("engine stop or SIGTERM during prepare…run: the CLI prints the run's output and exits 0, or exits non-zero", async () => {
  await using sandbox = await Sandbox.create();
  await sandbox.cliOk(["prepare:psql", "--", "-c", "select 1", "run:psql", "--", "-c", "select 1"]);
  // Moments: while the step runs (it sleeps 2 s), around its end, during the instance and the run.
  const trials: Array<[number, "engine stop" | "SIGTERM"]> = [
    [400, "engine stop"],
    [400, "SIGTERM"],
    [1200, "SIGTERM"],
    [1200, "engine stop"],
    [2300, "SIGTERM"],
    [2600, "engine stop"],
  ];
  const outcomes: string[] = [];
  for (const [index, [delayMs, how]] of trials.entries()) {
    const cli = startCli(sandbox, [
      "prepare:psql",
      "--",
      "-c",
      `select pg_sleep(2); create table trial as select ${index} as n`,
      "run:psql",
      "--",
      "-A",
      "-t",
      "-c",
      "select n from trial",
    ]);
    await sleep(delayMs);
    await stopEngine(sandbox, how);
    const result = await cli;
    outcomes.push(`${how} at ${delayMs} ms: exit ${result.code}`);
    if (result.code === 0) {
      assert.equal(
        result.stdout,
        `${index}\n`,
        `trial ${index} (${how} at ${delayMs} ms) exited 0: ${result.stderr}`,
      );
    } else {
      assert.equal(result.stdout, "", `trial ${index} failed yet printed: ${result.stderr}`);
    }
  }
  console.log(outcomes.join("\n"));
  assert.ok(outcomes.some((line) => line.endsWith("exit 0")), "some trial reconnected and finished");
});

Deno.test("10 rounds of engine stop racing 10 CLIs (status, plan, cached prepare…run): no CLI exits 3", async () => {
  await using sandbox = await Sandbox.create();
  // Identical jobs are retained beyond the default 2 here, so that retention cannot delete a job a
  // CLI still follows (that is a separate matter; this test is about the engine going away).
  await sandbox.cliOk(["config", "set", "orchestrator.jobs.maxIdentical", "null"]);
  const steps = ["--", "-c", "create table t as select 7 as n"];
  await sandbox.cliOk(["prepare:psql", ...steps, "run:psql", "--", "-c", "select 1"]);
  const commands: string[][] = [
    ["status"],
    ["status"],
    ["status"],
    ["status"],
    ["plan:psql", ...steps],
    ["plan:psql", ...steps],
    ["plan:psql", ...steps],
    ["prepare:psql", ...steps, "run:psql", "--", "-A", "-t", "-c", "select n from t"],
    ["prepare:psql", ...steps, "run:psql", "--", "-A", "-t", "-c", "select n from t"],
    ["prepare:psql", ...steps, "run:psql", "--", "-A", "-t", "-c", "select n from t"],
  ];
  const codes = new Map<number, number>();
  for (let round = 0; round < 10; round++) {
    await sandbox.cliOk(["status"]); // an engine runs when the round starts
    const clis = commands.map((args) => startCli(sandbox, args));
    await sleep(round * 30 % 300);
    const stop = await sandbox.cli(["engine", "stop"]);
    const results = await Promise.all(clis);
    assert.equal(stop.code, 0, stop.stderr);
    for (const [index, result] of results.entries()) {
      codes.set(result.code, (codes.get(result.code) ?? 0) + 1);
      assert.notEqual(
        result.code,
        3,
        `round ${round}: sqlrs ${commands[index]?.join(" ")}: ${result.stderr}`,
      );
      if (commands[index]?.[0] === "prepare:psql" && result.code === 0) assert.equal(result.stdout, "7\n");
    }
  }
  console.log(`exit codes of 100 CLIs: ${JSON.stringify(Object.fromEntries(codes))}`);
});

Deno.test("mod.ts prepare() and the CLI both finish a job whose engine is stopped mid-job, with the same state", async () => {
  await using sandbox = await Sandbox.create();
  await sandbox.cliOk(["prepare:psql", "--", "-c", "select 1", "run:psql", "--", "-c", "select 1"]);
  const psql = ["-c", "select pg_sleep(2); create table t as select 42 as n"];
  const library = sqlrs.prepare({ env: sandbox.env, cwd: sandbox.dir, psql });
  const cli = startCli(sandbox, ["--output", "json", "prepare:psql", "--", ...psql]);
  await sleep(1000);
  await stopEngine(sandbox, "engine stop");
  await using db = await library;
  const result = await cli;
  assert.equal(result.code, 0, result.stderr);
  const printed = JSON.parse(result.stdout);
  assert.equal(printed.state_id, db.stateId);
  assert.notEqual(printed.instance_id, db.instanceId);
  for (const instance of [db.instanceId, printed.instance_id]) {
    assert.equal((await sandbox.query(instance, "select n from t")).stdout, "42\n");
  }
});
