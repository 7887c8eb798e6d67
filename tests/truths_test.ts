/**
 * Every command tells the truth (issue 14): a configuration that cannot work is refused when it is
 * set and never keeps the engine from starting; the real error surfaces with the right exit code;
 * task and job statuses are final. Real CLI and engine processes, real PostgreSQL on the host runtime.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type CliResult, Sandbox, waitFor } from "./_sandbox.ts";
import { sandboxOn, storeNeed } from "./_stores.ts";
import { need, testNeeding } from "./_needs.ts";

interface StatusJson {
  problems: string[];
  snapshot_reason: string;
  snapshot_backends: Array<{ name: string; available: boolean; selected: boolean; detail: string }>;
}

interface TaskJson {
  task_id: string;
  type: string;
  status: string;
}

/** A sandbox whose store is a plain directory on the test filesystem (ext4 here: not btrfs). */
async function plainSandbox(): Promise<Sandbox> {
  const sandbox = await Sandbox.create((dir) => ({ SQLRS_STATE_STORE: join(dir, "store") }));
  await Deno.mkdir(sandbox.storeRoot, { recursive: true, mode: 0o755 });
  return sandbox;
}

async function storeIsBtrfs(sandbox: Sandbox): Promise<boolean> {
  const output = await new Deno.Command("stat", { args: ["-f", "-c", "%T", sandbox.storeRoot] }).output();
  return new TextDecoder().decode(output.stdout).trim() === "btrfs";
}

async function statusJson(sandbox: Sandbox): Promise<StatusJson> {
  return JSON.parse((await sandbox.cliOk(["--output", "json", "status"])).stdout);
}

function jobIdOf(result: CliResult): string {
  const jobId = /JOB_ID=([0-9a-f]{32})/.exec(result.stdout)?.[1];
  assert.ok(jobId, `no JOB_ID in ${result.stdout}`);
  return jobId;
}

async function tasksOf(sandbox: Sandbox, jobId: string): Promise<TaskJson[]> {
  return JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--tasks", "--job", jobId])).stdout)
    .tasks;
}

Deno.test("config set snapshot.backend refuses btrfs on a store that is not btrfs, with status's reason", async () => {
  await using sandbox = await plainSandbox();
  if (await storeIsBtrfs(sandbox)) return; // The test filesystem itself is btrfs: nothing to refuse.
  const btrfs = (await statusJson(sandbox)).snapshot_backends.find((backend) => backend.name === "btrfs");
  assert.equal(btrfs?.available, false);
  const refused = await sandbox.cli(["config", "set", "snapshot.backend", '"btrfs"']);
  assert.equal(refused.code, 2, refused.stderr);
  assert.ok(refused.stderr.includes(btrfs!.detail), refused.stderr);
  // Nothing was written: the engine and the next one still build.
  const unset = await sandbox.cli(["config", "get", "snapshot.backend"]);
  assert.equal(unset.code, 2, unset.stdout);
  await sandbox.cliOk(["config", "set", "snapshot.backend", '"copy"']);
});

Deno.test("init local --snapshot btrfs refuses a store that is not btrfs and writes nothing", async () => {
  await using sandbox = await plainSandbox();
  if (await storeIsBtrfs(sandbox)) return;
  const workspace = join(sandbox.dir, "ws");
  await Deno.mkdir(workspace);
  const refused = await sandbox.cli(["init", "local", "--snapshot", "btrfs"], { cwd: workspace });
  assert.equal(refused.code, 64, refused.stderr);
  assert.match(refused.stderr, /Snapshot backend "btrfs" cannot work here: .* not btrfs/);
  await assert.rejects(Deno.stat(join(workspace, ".sqlrs")), Deno.errors.NotFound);
  const dryRun = await sandbox.cli(["init", "local", "--snapshot", "btrfs", "--dry-run"], { cwd: workspace });
  assert.equal(dryRun.code, 64, dryRun.stderr);
});

Deno.test("a store whose config.json names an unworkable backend: status and config rm work, prepare fails clearly", async () => {
  await using sandbox = await plainSandbox();
  if (await storeIsBtrfs(sandbox)) return;
  await Deno.writeTextFile(
    join(sandbox.storeRoot, "config.json"),
    JSON.stringify({ snapshot: { backend: "btrfs" } }),
  );
  const status = await statusJson(sandbox);
  assert.equal(status.problems.length, 1, JSON.stringify(status.problems));
  assert.match(status.problems[0] as string, /Snapshot backend "btrfs" cannot work here: .*config rm/);
  assert.equal(status.snapshot_backends.find((backend) => backend.selected)?.name, "btrfs");
  const human = await sandbox.cliOk(["status"]);
  assert.match(human.stdout, /engine: +running with problems/);
  assert.match(human.stdout, /problem: +Snapshot backend "btrfs" cannot work here/);

  const failed = await sandbox.cli(["prepare:psql", "--", "-c", "create table t(id int)"]);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stderr, /Snapshot backend "btrfs" cannot work here/);
  assert.equal(failed.stdout, "");

  await sandbox.cliOk(["config", "rm", "snapshot.backend"]);
  await sandbox.cliOk(["engine", "stop"]);
  assert.deepEqual((await statusJson(sandbox)).problems, []);
  const prepared = await sandbox.cliOk(["prepare:psql", "--", "-c", "create table t(id int)"]);
  assert.match(prepared.stdout, /^DSN=postgres:/);
});

Deno.test("a workspace naming an unworkable backend and an invalid config.json still give a working status", async () => {
  await using sandbox = await plainSandbox();
  if (await storeIsBtrfs(sandbox)) return;
  await Deno.mkdir(join(sandbox.dir, ".sqlrs"));
  await Deno.writeTextFile(join(sandbox.dir, ".sqlrs", "config.yaml"), "snapshot:\n  backend: btrfs\n");
  await Deno.writeTextFile(join(sandbox.storeRoot, "config.json"), '{"instances": {"ttl": "soon"}}');
  const status = await statusJson(sandbox);
  assert.equal(status.problems.length, 2, JSON.stringify(status.problems));
  assert.match(status.problems.join("\n"), /instances\.ttl/);
  assert.match(status.problems.join("\n"), /SQLRS_SNAPSHOT_BACKEND.*init local --update/);
  await sandbox.cliOk(["config", "rm", "instances.ttl"]);
  assert.equal((await statusJson(sandbox)).problems.length, 1);
});

Deno.test("prepare --ttl beyond 100 years is refused at submit with exit 2 and builds nothing", async () => {
  await using sandbox = await plainSandbox();
  const refused = await sandbox.cli(["prepare:psql", "--ttl", "9999999999999d", "--", "-c", "select 1"]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /36500d/);
  const jobs = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--jobs"])).stdout).jobs;
  assert.deepEqual(jobs, []);
  const ok = await sandbox.cliOk(["prepare:psql", "--ttl", "36500d", "--", "-c", "select 1"]);
  assert.match(ok.stdout, /^DSN=/);
});

Deno.test("rm -r of a state a running job builds on is blocked (exit 4) and the job ends well", async () => {
  await using sandbox = await plainSandbox();
  await sandbox.cliOk(["config", "set", "snapshot.backend", '"copy"']);
  const first = JSON.parse(
    (await sandbox.cliOk([
      "--output",
      "json",
      "prepare:psql",
      "--",
      "-c",
      "create table t as select 1 as id",
    ]))
      .stdout,
  );
  const parent = first.state_id as string;
  await sandbox.cliOk(["rm", first.instance_id]);
  const submitted = await sandbox.cliOk([
    "prepare:psql",
    "--no-watch",
    "--",
    "-c",
    "create table t as select 1 as id",
    "-c",
    "select pg_sleep(4); insert into t values (2)",
  ]);
  const jobId = jobIdOf(submitted);
  assert.ok(
    await waitFor(
      async () => (await tasksOf(sandbox, jobId)).some((task) => task.status === "running"),
      30_000,
    ),
  );
  const blocked = await sandbox.cli(["rm", "-r", parent]);
  assert.equal(blocked.code, 4, blocked.stderr);
  assert.match(blocked.stdout, /blocked \(active_tasks\)/);
  assert.match(blocked.stderr, /a running job uses it/);
  const watched = await sandbox.cli(["--output", "json", "watch", jobId]);
  assert.equal(watched.code, 0, watched.stderr);
  const states = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--states"])).stdout).states;
  const child = states.find((state: { parent_state_id: string | null }) => state.parent_state_id === parent);
  assert.ok(child, "the child keeps its parent");
  assert.ok(states.some((state: { state_id: string }) => state.state_id === parent));
});

Deno.test("a failed job's tasks end failed and skipped; a cancelled job's end cancelled (ls -t, job, events)", async () => {
  await using sandbox = await plainSandbox();
  await sandbox.cliOk(["config", "set", "snapshot.backend", '"copy"']);
  const failed = await sandbox.cli([
    "prepare:psql",
    "--",
    "-c",
    "create table a(id int)",
    "-c",
    "select * from missing_table",
    "-c",
    "create table c(id int)",
  ]);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stderr, /missing_table/);
  using client = await sandbox.client();
  const failedJob = (await client.listJobs()).find((job) => job.status === "failed");
  assert.ok(failedJob);
  const failedTasks = await tasksOf(sandbox, failedJob.job_id);
  assert.deepEqual(
    failedTasks.map((task) => task.status),
    ["succeeded", "succeeded", "succeeded", "failed", "skipped", "skipped"],
  );
  assert.deepEqual(
    (await client.job(failedJob.job_id)).tasks.map((task) => task.task_id),
    failedTasks.map((task) => task.task_id),
  );
  const lastTaskEvent = new Map<string, string>();
  for await (const event of client.jobEvents(failedJob.job_id)) {
    if (event.type === "task" && event.task_id !== undefined && event.status !== undefined) {
      lastTaskEvent.set(event.task_id, event.status);
    }
  }
  assert.deepEqual(
    failedTasks.map((task) => lastTaskEvent.get(task.task_id)),
    failedTasks.map((t) => t.status),
  );

  const submitted = await sandbox.cliOk([
    "prepare:psql",
    "--no-watch",
    "--",
    "-c",
    "select pg_sleep(60)",
    "-c",
    "create table c(id int)",
  ]);
  const jobId = jobIdOf(submitted);
  assert.ok(
    await waitFor(
      async () => (await tasksOf(sandbox, jobId)).some((task) => task.status === "running"),
      30_000,
    ),
  );
  await client.cancelJob(jobId);
  assert.ok(await waitFor(async () => (await client.job(jobId)).status === "cancelled", 30_000));
  assert.deepEqual(
    (await tasksOf(sandbox, jobId)).map((task) => task.status),
    ["succeeded", "succeeded", "cancelled", "cancelled", "cancelled"],
  );
  const listed = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--jobs"])).stdout).jobs;
  assert.equal(listed.find((job: { job_id: string }) => job.job_id === jobId).status, "cancelled");
});

testNeeding(
  need(Deno.uid() === 0, "root, to mount a small tmpfs store"),
  "a full disk during a step surfaces the real error, not a failed ROLLBACK",
  async () => {
    await using sandbox = await plainSandbox();
    const mounted = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=96m,mode=0755", "tmpfs", sandbox.storeRoot],
    }).output();
    assert.ok(mounted.success, new TextDecoder().decode(mounted.stderr));
    await sandbox.cliOk(["config", "set", "snapshot.backend", '"copy"']);
    // The base (~40 MB) fits; the step then fills the rest of the disk.
    const result = await sandbox.cli([
      "--output",
      "json",
      "prepare:psql",
      "--",
      "-c",
      "create table big as select g as id, repeat('x', 1000) as pad from generate_series(1, 200000) g",
    ]);
    assert.equal(result.code, 1, `${result.stdout}\n${result.stderr}`);
    assert.doesNotMatch(result.stderr, /cannot rollback|no transaction is active/);
    // PostgreSQL says "No space left on device", or "wrote only N of M bytes … Check free disk space".
    assert.match(result.stderr, /No space left on device|disk is full|free disk space/i, result.stderr);
    // The engine survived and still answers.
    await sandbox.cliOk(["status"]);
  },
);

/** The overlay mount point of an instance's clone, from the kernel's mount table. */
async function overlayMountOf(instanceId: string): Promise<string> {
  const mounts = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n");
  const mount = mounts.map((line) => line.split(" ")[4] ?? "").find((point) =>
    point.includes(`/instances/${instanceId}/`)
  );
  assert.ok(mount, `no mount of instance ${instanceId}`);
  return mount;
}

testNeeding(
  await storeNeed("overlay"),
  "a delete the backend refuses (409 error) exits 4 with its reason, not 3 with a schema dump",
  async () => {
    await using sandbox = await sandboxOn("overlay");
    const prepared = JSON.parse(
      (await sandbox.cliOk(["--output", "json", "prepare:psql", "--", "-c", "create table t(id int)"]))
        .stdout,
    );
    // A process inside the clone keeps its mount busy, so the backend cannot unmount it.
    const squatter = new Deno.Command("sleep", {
      args: ["60"],
      cwd: await overlayMountOf(prepared.instance_id),
    })
      .spawn();
    try {
      const refused = await sandbox.cli(["rm", "-f", prepared.instance_id]);
      assert.equal(refused.code, 4, refused.stderr);
      assert.match(refused.stderr, /Cannot delete instance [0-9a-f]{32}: .*still busy/);
      assert.doesNotMatch(refused.stderr, /invalid_type|issues|expected/);
    } finally {
      squatter.kill("SIGKILL");
      await squatter.status;
    }
    await sandbox.cliOk(["rm", "-f", prepared.instance_id]);
  },
);

testNeeding(
  await storeNeed("overlay"),
  "a dirty state under a live overlay instance: plan and prepare agree, and prepare rebuilds it",
  async () => {
    await using sandbox = await sandboxOn("overlay");
    const args = ["-c", "create table t as select 1 as id"];
    const live = JSON.parse(
      (await sandbox.cliOk(["--output", "json", "prepare:psql", "--", ...args])).stdout,
    );
    const state = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--states"])).stdout).states
      .find((row: { state_id: string }) => row.state_id === live.state_id);
    assert.ok(state);
    // The state's data directory no longer looks cleanly shut down (as if a server had run on it).
    const stateDirs = [] as string[];
    for await (const entry of Deno.readDir(join(sandbox.storeRoot, "engines"))) {
      for await (const version of Deno.readDir(join(sandbox.storeRoot, "engines", entry.name))) {
        stateDirs.push(join(sandbox.storeRoot, "engines", entry.name, version.name, "states", live.state_id));
      }
    }
    const stateDir = stateDirs.find((dir) => {
      try {
        return Deno.statSync(dir).isDirectory;
      } catch {
        return false;
      }
    });
    assert.ok(stateDir, `state directory of ${live.state_id} among ${stateDirs.join(", ")}`);
    await Deno.writeTextFile(join(stateDir, "postmaster.pid"), "4242\n");

    const planned = JSON.parse(
      (await sandbox.cliOk(["--output", "json", "plan:psql", "--", ...args])).stdout,
    );
    const step = planned.tasks.find((task: { type: string }) => task.type === "state_execute");
    const again = await sandbox.cli(["--output", "json", "prepare:psql", "--", ...args]);
    assert.equal(again.code, 0, again.stderr);
    const jobId = JSON.parse(again.stdout).job_id;
    const executed = (await tasksOf(sandbox, jobId)).find((task) => task.type === "state_execute");
    assert.equal(step.cached, executed?.status === "skipped", "plan and prepare agree");
    assert.equal(
      (await sandbox.query(JSON.parse(again.stdout).instance_id, "select count(*) from t")).stdout,
      "1\n",
    );
    // The live instance still works, and is removable.
    const old = await sandbox.query(live.instance_id, "select count(*) from t");
    assert.equal(old.stdout, "1\n", old.stderr);
    await sandbox.cliOk(["rm", "-f", live.instance_id]);
    // The discarded directory goes once no instance of the state is left (at the next engine start).
    await sandbox.cliOk(["rm", "-f", JSON.parse(again.stdout).instance_id]);
    await sandbox.cliOk(["engine", "stop"]);
    await sandbox.cliOk(["status"]);
    const left = await Array.fromAsync(Deno.readDir(join(stateDir, "..")));
    assert.deepEqual(left.map((entry) => entry.name).filter((name) => name.startsWith(".")), []);
  },
);
