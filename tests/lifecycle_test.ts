/**
 * A lifecycle that cleans up after itself, on real PostgreSQL (host runtime): unnamed CLI prepares get
 * a default TTL (`defaults.unnamedTtl`); `--rebind` deletes the instance the name leaves unless
 * `--keep-old`; `prune` deletes unnamed instances without clients (`--all`: every one); `ls -i` shows
 * status, port and age (`--long`: the DSN); `instances.max` refuses a prepare over the cap with exit 4
 * before building; `run:psql` with no arguments on a terminal is an interactive psql.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { postgresUnder, Sandbox, waitFor } from "./_sandbox.ts";
import { hostPsql } from "./_prepare_suite.ts";
import { hasScript, TerminalCli } from "./_terminal.ts";
import { need, testNeeding } from "./_needs.ts";

interface Prepared {
  job_id: string;
  instance_id: string;
  state_id: string;
  dsn: string;
  name: string | null;
}

interface Listed {
  instance_id: string;
  name: string | null;
  created_at: string;
  expires_at: string | null;
  status: string;
  port: number;
  dsn: string;
}

interface Pruned {
  instance_id: string;
  connections: number;
  kept: string | null;
}

async function prepare(sandbox: Sandbox, flags: string[], sql = "create table t(id int)"): Promise<Prepared> {
  const result = await sandbox.cliOk(["--output", "json", "prepare:psql", ...flags, "--", "-c", sql]);
  return JSON.parse(result.stdout);
}

async function instances(sandbox: Sandbox): Promise<Listed[]> {
  return JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "-i"])).stdout).instances;
}

async function prune(sandbox: Sandbox, flags: string[]): Promise<{ deleted: Pruned[]; kept: Pruned[] }> {
  return JSON.parse((await sandbox.cliOk(["--output", "json", "prune", ...flags])).stdout);
}

/** The instance's TTL in minutes (expiry minus creation), or null without one. */
async function ttlMinutes(sandbox: Sandbox, instanceId: string): Promise<number | null> {
  const row = (await instances(sandbox)).find((i) => i.instance_id === instanceId);
  assert.ok(row !== undefined, `instance ${instanceId} is listed`);
  if (row.expires_at === null) return null;
  return Math.round((Date.parse(row.expires_at) - Date.parse(row.created_at)) / 60_000);
}

/** Postmasters still running on the instance's data directory. */
function serversOf(sandbox: Sandbox, instanceId: string): number[] {
  return postgresUnder(join(sandbox.storeRoot, "instances", instanceId));
}

Deno.test("an unnamed CLI prepare gets defaults.unnamedTtl (8h unless configured; null: none), a named one none", async () => {
  await using sandbox = await Sandbox.create();
  const unnamed = await prepare(sandbox, []);
  assert.equal(await ttlMinutes(sandbox, unnamed.instance_id), 8 * 60);
  const named = await prepare(sandbox, ["--name", "dev"]);
  assert.equal(await ttlMinutes(sandbox, named.instance_id), null);
  const explicit = await prepare(sandbox, ["--ttl", "5m"]);
  assert.equal(await ttlMinutes(sandbox, explicit.instance_id), 5);

  await sandbox.writeCliConfig("defaults:\n  unnamedTtl: 8 hours\n");
  const bad = await sandbox.cli(["prepare:psql", "--", "-c", "select 1"]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /Invalid defaults\.unnamedTtl in the CLI config: Cannot parse duration "8 hours"/);
  assert.equal((await sandbox.cli(["ls", "-i"])).code, 0, "a bad value breaks only what uses it");

  await sandbox.writeCliConfig("defaults:\n  unnamedTtl: 30m\n");
  const configured = await prepare(sandbox, []);
  assert.equal(await ttlMinutes(sandbox, configured.instance_id), 30);
  // A workspace's null turns it off even where the global config sets one.
  await Deno.mkdir(join(sandbox.dir, "ws", ".sqlrs"), { recursive: true });
  await Deno.writeTextFile(
    join(sandbox.dir, "ws", ".sqlrs", "config.yaml"),
    "defaults:\n  unnamedTtl: null\n",
  );
  const off = JSON.parse(
    (await sandbox.cliOk(["--output", "json", "prepare:psql", "--", "-c", "select 1"], {
      cwd: join(sandbox.dir, "ws"),
    })).stdout,
  );
  assert.equal(await ttlMinutes(sandbox, off.instance_id), null);
});

Deno.test("--rebind deletes the instance the name leaves (server gone, DSN dead); --keep-old keeps it", async () => {
  await using sandbox = await Sandbox.create();
  const first = await prepare(sandbox, ["--name", "dev"]);
  assert.equal((await hostPsql(first.dsn, "select 1")).code, 0);
  const second = await prepare(sandbox, ["--name", "dev", "--rebind"]);
  const listed = await instances(sandbox);
  assert.deepEqual(listed.map((i) => [i.instance_id, i.name]), [[second.instance_id, "dev"]]);
  assert.deepEqual(serversOf(sandbox, first.instance_id), []);
  assert.notEqual((await hostPsql(first.dsn, "select 1")).code, 0, "the old DSN no longer connects");
  await assert.rejects(
    Deno.stat(join(sandbox.storeRoot, "instances", first.instance_id)),
    Deno.errors.NotFound,
  );

  const third = await prepare(sandbox, ["--name", "dev", "--rebind", "--keep-old"]);
  const kept = await instances(sandbox);
  assert.deepEqual(
    kept.map((i) => [i.instance_id, i.name]),
    [[second.instance_id, null], [third.instance_id, "dev"]],
  );
  assert.equal((await hostPsql(second.dsn, "select 1")).code, 0, "the kept instance still serves");

  const misuse = await sandbox.cli(["prepare:psql", "--keep-old", "--", "-c", "select 1"]);
  assert.equal(misuse.code, 2, misuse.stderr);
  assert.match(misuse.stderr, /--keep-old applies to --rebind only/);
});

Deno.test("prune: --dry-run lists, prune deletes unnamed unconnected instances and keeps named and connected ones; --all deletes them", async () => {
  await using sandbox = await Sandbox.create();
  const idle = await prepare(sandbox, []);
  const busy = await prepare(sandbox, []);
  const named = await prepare(sandbox, ["--name", "dev"]);
  const client = new Deno.Command("psql", {
    args: [busy.dsn, "-X", "-c", "select pg_sleep(120)"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    assert.ok(
      await waitFor(async () => {
        const { kept } = await prune(sandbox, ["--dry-run"]);
        return kept.some((entry) => entry.instance_id === busy.instance_id && entry.connections === 1);
      }, 30_000),
      "the client's connection is counted",
    );
    const dry = await prune(sandbox, ["--dry-run"]);
    assert.deepEqual(dry.deleted.map((e) => e.instance_id), [idle.instance_id]);
    assert.deepEqual(
      dry.kept.map((e) => [e.instance_id, e.kept]).sort(),
      [[busy.instance_id, "connected"], [named.instance_id, "named"]].sort(),
    );
    assert.equal((await instances(sandbox)).length, 3, "a dry run deletes nothing");
    const human = (await sandbox.cliOk(["prune", "--dry-run"])).stdout;
    assert.match(human, new RegExp(`^would delete ${idle.instance_id} `, "m"));
    assert.match(human, new RegExp(`^kept ${named.instance_id} dev .*: named`, "m"));

    const pruned = await prune(sandbox, []);
    assert.deepEqual(pruned.deleted.map((e) => e.instance_id), [idle.instance_id]);
    assert.deepEqual(
      (await instances(sandbox)).map((i) => i.instance_id).sort(),
      [busy.instance_id, named.instance_id].sort(),
    );
    assert.deepEqual(serversOf(sandbox, idle.instance_id), []);

    const all = await prune(sandbox, ["--all"]);
    assert.deepEqual(
      all.deleted.map((e) => e.instance_id).sort(),
      [busy.instance_id, named.instance_id].sort(),
    );
    assert.deepEqual(await instances(sandbox), []);
    assert.notEqual((await client.status).code, 0, "the connected client was disconnected");
  } finally {
    try {
      client.kill("SIGKILL");
    } catch {
      // already gone
    }
    await client.status;
  }
});

Deno.test("ls -i shows status, port and age (never 'orphaned'); --long adds the DSN; a dead server shows stopped", async () => {
  await using sandbox = await Sandbox.create();
  const unnamed = await prepare(sandbox, []);
  const [row] = await instances(sandbox);
  assert.ok(row !== undefined);
  assert.equal(row.status, "running");
  assert.equal(row.port, Number(new URL(unnamed.dsn).port));
  const human = (await sandbox.cliOk(["ls", "-i", "-q"], { env: { COLUMNS: "200" } })).stdout;
  assert.match(human, /^INSTANCE_ID +NAME +STATUS +PORT +AGE +EXPIRES +STATE_ID +IMAGE_ID$/m);
  assert.match(
    human,
    new RegExp(`^${unnamed.instance_id.slice(0, 12)} +- +running +${row.port} +\\d+[smhd] +in 8h `, "m"),
  );
  assert.doesNotMatch(human, /orphaned|postgres:\/\//);
  const long = (await sandbox.cliOk(["ls", "-i", "-q", "--long"])).stdout;
  assert.match(long, / DSN$/m);
  assert.ok(long.includes(unnamed.dsn), long);

  for (const pid of serversOf(sandbox, unnamed.instance_id)) Deno.kill(pid, "SIGQUIT");
  assert.ok(await waitFor(() => serversOf(sandbox, unnamed.instance_id).length === 0, 15_000));
  assert.equal((await instances(sandbox))[0]?.status, "stopped");
  const ran = await sandbox.query(unnamed.instance_id, "select 1");
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal((await instances(sandbox))[0]?.status, "running");
});

Deno.test("instances.max refuses a prepare over the cap with exit 4 before building; a replacing --rebind counts as none", async () => {
  await using sandbox = await Sandbox.create();
  await sandbox.cliOk(["config", "set", "instances.max", "1"]);
  const first = await prepare(sandbox, ["--name", "dev"]);
  const jobsBefore = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "-j"])).stdout).jobs.length;
  const statesBefore =
    JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "-s"])).stdout).states.length;

  const refused = await sandbox.cli(["prepare:psql", "--", "-c", "create table never_built(id int)"]);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, /^sqlrs: Cannot prepare another instance: 1 exist .* instances\.max is 1/m);
  const json = await sandbox.cli(["--output", "json", "prepare:psql", "--", "-c", "select 1"]);
  assert.equal(json.code, 4);
  assert.equal(JSON.parse(json.stdout).error.code, "instance_limit");
  assert.equal(
    JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "-j"])).stdout).jobs.length,
    jobsBefore,
  );
  assert.equal(
    JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "-s"])).stdout).states.length,
    statesBefore,
    "nothing was built",
  );

  const replaced = await prepare(sandbox, ["--name", "dev", "--rebind"]);
  assert.notEqual(replaced.instance_id, first.instance_id);
  const keepOld = await sandbox.cli([
    "prepare:psql",
    "--name",
    "dev",
    "--rebind",
    "--keep-old",
    "--",
    "-c",
    "select 1",
  ]);
  assert.equal(keepOld.code, 4, keepOld.stderr);
  await sandbox.cliOk(["config", "rm", "instances.max"]);
  await prepare(sandbox, []);
  assert.equal((await instances(sandbox)).length, 2);
});

testNeeding(need(hasScript, "util-linux script"), {
  name:
    "run:psql with no psql arguments on a terminal opens an interactive psql; Ctrl+C cancels its query only",
  fn: async () => {
    await using sandbox = await Sandbox.create();
    const dev = await prepare(sandbox, ["--name", "dev"], "create table answers as select 42 as v");
    // A stopped server is restarted first, as for any run.
    for (const pid of serversOf(sandbox, dev.instance_id)) Deno.kill(pid, "SIGQUIT");
    assert.ok(await waitFor(() => serversOf(sandbox, dev.instance_id).length === 0, 15_000));
    const cli = new TerminalCli(sandbox, ["run:psql", "--instance", "dev"], { env: { PAGER: "cat" } });
    let at = await cli.waitFor(/server restarted[\s\S]*postgres=# $/);
    await cli.type("select v from answers;\n");
    at = await cli.waitFor(/\n +42\s*\r?\n\(1 row\)/, at);
    await cli.type("select pg_sleep(60);\n");
    await new Promise((resolve) => setTimeout(resolve, 500));
    await cli.type("\x03");
    at = await cli.waitFor(/canceling statement due to user request[\s\S]*postgres=# $/, at);
    await cli.type("\\q\n");
    assert.equal(await cli.exit(), 0, cli.screen);
  },
});
