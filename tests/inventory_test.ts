/**
 * What sqlrs keeps and how it goes away, on real PostgreSQL: every rm outcome, live connections,
 * job retention, eviction under a configured maxBytes, the cache-full errors, cache explain, TTL.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { postgresUnder, Sandbox, waitFor } from "./_sandbox.ts";
import { prepare } from "./_prepare_suite.ts";

interface Listed {
  instances: Array<{ instance_id: string; expires_at: string | null }>;
  states: Array<{ state_id: string; size_bytes: number; refcount: number }>;
  jobs: Array<{ job_id: string; signature: string }>;
}

async function ls(sandbox: Sandbox, ...selectors: string[]): Promise<Listed> {
  return JSON.parse((await sandbox.cliOk(["--output", "json", "ls", ...selectors])).stdout);
}

/**
 * Holds an idle client session on an instance (psql waiting on its stdin). An idle backend goes away
 * as soon as its client does; one inside a query would outlive a killed client.
 */
function holdConnection(dsn: string): { child: Deno.ChildProcess } {
  const child = new Deno.Command("psql", {
    args: [dsn, "-X"],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return { child };
}

async function release(child: Deno.ChildProcess): Promise<void> {
  await child.stdin.close().catch(() => {});
  await child.status;
}

Deno.test("rm of an instance: would delete (dry run), blocked by a live connection (exit 4), forced, deleted, then unknown (exit 2)", async () => {
  await using sandbox = await Sandbox.create();
  const prepared = await prepare(sandbox, ["-c", "create table t(id int)"]);
  const dry = await sandbox.cliOk(["rm", "--dry-run", prepared.instance_id]);
  assert.match(dry.stdout, new RegExp(`instance ${prepared.instance_id} connections=0: would delete`));
  assert.equal((await ls(sandbox, "-i")).instances.length, 1);

  const { child } = holdConnection(prepared.dsn);
  try {
    assert.ok(
      await waitFor(async () => {
        const result = await sandbox.cli(["--output", "json", "rm", "--dry-run", prepared.instance_id]);
        return JSON.parse(result.stdout).root.connections === 1;
      }, 10_000),
    );
    const blocked = await sandbox.cli(["rm", prepared.instance_id.slice(0, 10)]);
    assert.equal(blocked.code, 4);
    assert.match(blocked.stdout, /connections=1: blocked \(active_connections\)/);
    assert.match(blocked.stderr, /^sqlrs: nothing was deleted; .*pass -f/);
    assert.equal((await ls(sandbox, "-i")).instances.length, 1, "nothing deleted");
    const forced = await sandbox.cliOk(["--output", "json", "rm", "-f", prepared.instance_id]);
    assert.equal(JSON.parse(forced.stdout).outcome, "deleted");
    assert.equal(JSON.parse(forced.stdout).root.connections, 1);
  } finally {
    await release(child);
  }
  assert.equal((await ls(sandbox, "-i")).instances.length, 0);
  assert.deepEqual(postgresUnder(join(sandbox.storeRoot, "instances")), [], "its server is stopped");
  const again = await sandbox.cli(["rm", prepared.instance_id]);
  assert.equal(again.code, 2, "gone: nothing matches");
  assert.match(again.stderr, /^sqlrs: Cannot delete .*: no instance, state or job matches/);
});

Deno.test("rm of a state: blocked by descendants without -r, running instances without -f, the whole tree with -r -f, nothing partial", async () => {
  await using sandbox = await Sandbox.create();
  const parent = await prepare(sandbox, ["-c", "create table a(id int)"]);
  const child = await prepare(sandbox, ["-c", "create table a(id int)", "-c", "create table b(id int)"]);
  const states = (await ls(sandbox, "-s")).states;
  assert.equal(states.length, 2);
  const noRecurse = await sandbox.cli(["--output", "json", "rm", parent.state_id.slice(0, 12)]);
  assert.equal(noRecurse.code, 4);
  assert.equal(JSON.parse(noRecurse.stdout).root.blocked, "has_descendants");
  assert.match(noRecurse.stderr, /^sqlrs: nothing was deleted; .*pass -r/);

  const { child: session } = holdConnection(child.dsn);
  try {
    assert.ok(
      await waitFor(async () => {
        const result = await sandbox.cli(["--output", "json", "rm", "--dry-run", child.instance_id]);
        return JSON.parse(result.stdout).root.connections === 1;
      }, 10_000),
    );
    const blockedTree = await sandbox.cli(["rm", "-r", parent.state_id.slice(0, 12)]);
    assert.equal(blockedTree.code, 4);
    assert.match(blockedTree.stdout, /blocked \(blocked_by_descendant\)/);
    assert.match(blockedTree.stdout, /blocked \(active_connections\)/);
    assert.equal((await ls(sandbox, "-s")).states.length, 2, "nothing partial");
    assert.equal((await ls(sandbox, "-i")).instances.length, 2);
  } finally {
    await release(session);
  }
  assert.ok(
    await waitFor(async () => {
      const result = await sandbox.cli(["--output", "json", "rm", "--dry-run", child.instance_id]);
      return JSON.parse(result.stdout).root.connections === 0;
    }, 10_000),
  );
  const dry = await sandbox.cliOk(["--output", "json", "rm", "-r", "--dry-run", parent.state_id]);
  assert.equal(JSON.parse(dry.stdout).outcome, "would_delete");
  // The tree holds running instances: -r alone refuses to stop them (as docker rm without -f).
  const running = await sandbox.cli(["--output", "json", "rm", "-r", parent.state_id]);
  assert.equal(running.code, 4, running.stderr);
  assert.equal(JSON.parse(running.stdout).error.code, "blocked");
  assert.match(running.stderr, /^sqlrs: Cannot delete state .*2 running instance\(s\).*pass -f/);
  assert.equal((await ls(sandbox, "-i")).instances.length, 2, "nothing deleted");
  const deleted = await sandbox.cliOk(["--output", "json", "rm", "-r", "-f", parent.state_id]);
  assert.equal(JSON.parse(deleted.stdout).outcome, "deleted");
  const after = await ls(sandbox, "--all");
  assert.equal(after.states.length, 0);
  assert.equal(after.instances.length, 0);
  assert.deepEqual(postgresUnder(sandbox.storeRoot), []);
});

Deno.test("job retention keeps the newest orchestrator.jobs.maxIdentical finished jobs per signature", async () => {
  await using sandbox = await Sandbox.create();
  const jobIds: string[] = [];
  for (let i = 0; i < 3; i++) jobIds.push((await prepare(sandbox, ["-c", "create table r(id int)"])).job_id);
  const jobs = (await ls(sandbox, "-j")).jobs;
  assert.deepEqual(
    jobs.map((job) => job.job_id).sort(),
    jobIds.slice(1).sort(),
    "the oldest job was trimmed",
  );
  await sandbox.cliOk(["config", "set", "orchestrator.jobs.maxIdentical", "1"]);
  await prepare(sandbox, ["-c", "create table r(id int)"]);
  assert.equal((await ls(sandbox, "-j")).jobs.length, 1);
  const other = await prepare(sandbox, ["-c", "create table other(id int)"]);
  assert.equal(
    (await ls(sandbox, "-j")).jobs.filter((job) => job.job_id === other.job_id).length,
    1,
    "other signatures are kept",
  );
});

Deno.test("eviction frees space under a configured maxBytes, least recently used unreferenced leaves first", async () => {
  await using sandbox = await Sandbox.create();
  const made: string[] = [];
  for (const table of ["e1", "e2", "e3"]) {
    const prepared = await prepare(sandbox, ["-c", `create table ${table}(id int)`]);
    made.push(prepared.state_id);
    await sandbox.cliOk(["rm", prepared.instance_id]);
  }
  const sizes = (await ls(sandbox, "-s")).states.map((state) => state.size_bytes);
  const stateSize = Math.max(...sizes);
  await sandbox.cliOk(["config", "set", "cache.capacity.minStateAge", '"0s"']);
  // Room for about three states: the fourth pushes usage over the high watermark.
  await sandbox.cliOk(["config", "set", "cache.capacity.maxBytes", String(Math.floor(stateSize * 3.5))]);
  const fourth = await prepare(sandbox, ["-c", "create table e4(id int)"]);
  const remaining = (await ls(sandbox, "-s")).states.map((state) => state.state_id);
  assert.ok(remaining.includes(fourth.state_id), "the new state stays");
  assert.ok(!remaining.includes(made[0] as string), "the least recently used state was evicted");
  assert.ok(remaining.length < 4);
  const cache = JSON.parse((await sandbox.cliOk(["--output", "json", "status", "--cache"])).stdout).cache;
  assert.ok(cache.last_eviction.evicted_count >= 1);
  assert.ok(cache.last_eviction.freed_bytes > 0);
  assert.ok(cache.usage_bytes <= cache.effective_max_bytes);
  const human = await sandbox.cliOk(["status", "--cache"]);
  assert.match(human.stdout, /last eviction: .*\((pre_publish|post_snapshot)\): [1-9]\d* states/);
});

Deno.test("a cache too small for one state, or full of states in use, fails the prepare with a clear error", async () => {
  await using sandbox = await Sandbox.create();
  await sandbox.cliOk(["config", "set", "cache.capacity.maxBytes", "1000"]);
  const tooSmall = await sandbox.cli(["prepare:psql", "--", "-c", "create table big(id int)"]);
  assert.equal(tooSmall.code, 1);
  assert.match(tooSmall.stderr, /smaller than this one state/);
  assert.equal((await ls(sandbox, "-s")).states.length, 0, "nothing published");

  await sandbox.cliOk(["config", "rm", "cache.capacity.maxBytes"]);
  await sandbox.cliOk(["config", "set", "cache.capacity.minStateAge", '"0s"']);
  const kept = await prepare(sandbox, ["-c", "create table kept(id int)"]);
  const size = (await ls(sandbox, "-s")).states[0]!.size_bytes;
  await sandbox.cliOk(["config", "set", "cache.capacity.maxBytes", String(Math.floor(size * 1.5))]);
  const full = await sandbox.cli(["prepare:psql", "--", "-c", "create table more(id int)"]);
  assert.equal(full.code, 1);
  assert.match(full.stderr, /cache is full .* nothing more can be evicted/);
  const states = (await ls(sandbox, "-s")).states;
  assert.deepEqual(states.map((state) => state.state_id), [kept.state_id], "the state in use stays");
});

Deno.test("cache explain names the changed file and creates no job", async () => {
  await using sandbox = await Sandbox.create();
  await Deno.writeTextFile(join(sandbox.dir, "schema.sql"), "create table s(id int);");
  await Deno.writeTextFile(join(sandbox.dir, "seed.sql"), "insert into s values (1);");
  const args = ["-f", "schema.sql", "-f", "seed.sql"];
  await prepare(sandbox, args, { cwd: sandbox.dir });
  const hit = JSON.parse(
    (await sandbox.cliOk(["--output", "json", "cache", "explain", "prepare:psql", "--", ...args], {
      cwd: sandbox.dir,
    })).stdout,
  );
  assert.equal(hit.decision, "hit");
  await Deno.writeTextFile(join(sandbox.dir, "seed.sql"), "insert into s values (2);");
  const miss = JSON.parse(
    (await sandbox.cliOk(["--output", "json", "cache", "explain", "prepare:psql", "--", ...args], {
      cwd: sandbox.dir,
    })).stdout,
  );
  assert.equal(miss.decision, "miss");
  assert.deepEqual(miss.steps.map((step: { decision: string }) => step.decision), ["hit", "miss"]);
  assert.equal(miss.steps[1].reason_code, "input_changed");
  assert.deepEqual(miss.steps[1].changed_files, [join(sandbox.dir, "seed.sql")]);
  const human = await sandbox.cliOk(["cache", "explain", "prepare:psql", "--", ...args], {
    cwd: sandbox.dir,
  });
  assert.match(human.stdout, /seed\.sql changed/);
  assert.equal((await ls(sandbox, "-j")).jobs.length, 1, "explain created no job");
});

Deno.test("an instance with --ttl shows EXPIRES and is reaped by the engine when it expires", async () => {
  await using sandbox = await Sandbox.create();
  const result = await sandbox.cliOk([
    "--output",
    "json",
    "prepare:psql",
    "--ttl",
    "3s",
    "--",
    "-c",
    "select 1",
  ]);
  const prepared = JSON.parse(result.stdout);
  const listed = (await ls(sandbox, "-i")).instances;
  assert.ok(listed[0]?.expires_at !== null);
  assert.match((await sandbox.cliOk(["ls", "-i"])).stdout, /EXPIRES[\s\S]*in \d+s/);
  assert.ok(await waitFor(async () => (await ls(sandbox, "-i")).instances.length === 0, 20_000), "reaped");
  assert.deepEqual(postgresUnder(join(sandbox.storeRoot, "instances")), []);
  const gone = await sandbox.cli(["run:psql", "--instance", prepared.instance_id, "--", "-c", "select 1"]);
  assert.equal(gone.code, 2);
});
