/**
 * run:psql and run:pgbench on real PostgreSQL: pgbench, instance references (id, prefix, name,
 * ambiguity), names, and large output streamed with bounded memory. The composite form and psql's exit
 * codes are tested on every backend and runtime by the prepare suite (tests/_prepare_suite.ts).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { CLI, Sandbox } from "./_sandbox.ts";
import { prepare } from "./_prepare_suite.ts";

async function instances(
  sandbox: Sandbox,
): Promise<Array<{ instance_id: string; name: string | null; runtime_id: string }>> {
  return JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--instances"])).stdout).instances;
}

Deno.test("run:pgbench initializes and runs against an instance; pgbench_accounts has 100000 rows", async () => {
  await using sandbox = await Sandbox.create();
  const prepared = await prepare(sandbox, ["-c", "select 1"]);
  const init = await sandbox.cli(["run:pgbench", "--instance", prepared.instance_id, "--", "-i", "-s", "1"]);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stderr, /done in/);
  const bench = await sandbox.cli([
    "run:pgbench",
    "--instance",
    prepared.instance_id,
    "--",
    "-c",
    "2",
    "-T",
    "3",
  ]);
  assert.equal(bench.code, 0, bench.stderr);
  assert.match(bench.stdout, /number of transactions actually processed: [1-9]/);
  const count = await sandbox.query(prepared.instance_id, "select count(*) from pgbench_accounts");
  assert.equal(count.stdout, "100000\n");
  const conflict = await sandbox.cli([
    "run:pgbench",
    "--instance",
    prepared.instance_id,
    "--",
    "-h",
    "example.com",
    "-c",
    "1",
  ]);
  assert.equal(conflict.code, 2);
  assert.match(conflict.stderr, /-h/);
});

Deno.test("instances resolve by full id, 8+ hex prefix and name; unknown refs exit 2 with not found", async () => {
  await using sandbox = await Sandbox.create();
  const prepared = await prepare(sandbox, ["-c", "create table marker(id int)"]);
  const query = ["--", "-A", "-t", "-c", "select count(*) from marker"];
  assert.equal(
    (await sandbox.cliOk(["run:psql", "--instance", prepared.instance_id, ...query])).stdout,
    "0\n",
  );
  assert.equal(
    (await sandbox.cliOk(["run:psql", "--instance", prepared.instance_id.slice(0, 8), ...query])).stdout,
    "0\n",
  );
  const unknown = await sandbox.cli(["run:psql", "--instance", "ffffffffffff", ...query]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /not found/);
  const noName = await sandbox.cli(["run:psql", "--instance", "nosuchname", ...query]);
  assert.equal(noName.code, 2);
  assert.match(noName.stderr, /not found/);
  const composite = await sandbox.cli([
    "prepare:psql",
    "--",
    "-c",
    "select 1",
    "run:psql",
    "--instance",
    prepared.instance_id,
    "--",
    "-c",
    "select 1",
  ]);
  assert.equal(composite.code, 2);
  assert.match(composite.stderr, /--instance cannot be used/);
});

Deno.test("names bind an instance, refuse to move without --rebind (which deletes the old one), and redirect on the API", async () => {
  await using sandbox = await Sandbox.create();
  const first = JSON.parse(
    (await sandbox.cliOk([
      "--output",
      "json",
      "prepare:psql",
      "--name",
      "dev",
      "--",
      "-c",
      "create table a(id int)",
    ])).stdout,
  );
  assert.equal(first.name, "dev");
  const viaName = await sandbox.query("dev", "select count(*) from a");
  assert.equal(viaName.code, 0, viaName.stderr);
  assert.equal(viaName.stdout, "0\n");
  const taken = await sandbox.cli(["prepare:psql", "--name", "dev", "--", "-c", "create table b(id int)"]);
  assert.equal(taken.code, 2);
  assert.match(taken.stderr, /--rebind/);
  const second = JSON.parse(
    (await sandbox.cliOk([
      "--output",
      "json",
      "prepare:psql",
      "--name",
      "dev",
      "--rebind",
      "--",
      "-c",
      "create table b(id int)",
    ])).stdout,
  );
  const names = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--names"])).stdout).names;
  assert.deepEqual(names.map((n: { name: string; instance_id: string }) => [n.name, n.instance_id]), [[
    "dev",
    second.instance_id,
  ]]);
  const listed = await instances(sandbox);
  assert.equal(
    listed.find((i) => i.instance_id === first.instance_id),
    undefined,
    "the instance the name left was deleted",
  );

  const info = (await sandbox.engineInfo())!;
  const client = Deno.createHttpClient({
    proxy: { transport: "unix", path: info.endpoint.slice("unix://".length) },
  });
  try {
    const headers = { authorization: `Bearer ${info.authToken}` };
    const redirect = await fetch("http://localhost/v1/instances/dev", {
      client,
      headers,
      redirect: "manual",
    });
    assert.equal(redirect.status, 307);
    assert.equal(redirect.headers.get("location"), `/v1/instances/${second.instance_id}`);
    await redirect.body?.cancel();
    const byName = await fetch("http://localhost/v1/names/dev", { client, headers });
    assert.equal((await byName.json()).instance_id, second.instance_id);
  } finally {
    client.close();
  }
});

Deno.test("an ambiguous instance prefix exits 2 and lists the candidates", async () => {
  await using sandbox = await Sandbox.create();
  const prepared = await prepare(sandbox, ["-c", "select 1"]);
  await sandbox.cliOk(["engine", "stop"]);
  // Instance ids are random: give the store a second instance row sharing the first 8 hex digits.
  const twin = `${prepared.instance_id.slice(0, 8)}${"0".repeat(24)}`;
  const db = new DatabaseSync(join(sandbox.storeRoot, "state.db"));
  db.prepare(
    `INSERT INTO instances (instance_id, state_id, image_id, image_json, server_json, instance_dir, job_id, created_at, expires_at)
     SELECT ?, state_id, image_id, image_json, server_json, instance_dir || '-twin', job_id, created_at, expires_at
     FROM instances WHERE instance_id = ?`,
  ).run(twin, prepared.instance_id);
  db.close();
  const ambiguous = await sandbox.cli([
    "run:psql",
    "--instance",
    prepared.instance_id.slice(0, 8),
    "--",
    "-c",
    "select 1",
  ]);
  assert.equal(ambiguous.code, 2);
  assert.match(ambiguous.stderr, new RegExp(prepared.instance_id));
  assert.match(ambiguous.stderr, new RegExp(twin));
  const exact = await sandbox.query(prepared.instance_id.slice(0, 12), "select 7");
  assert.equal(exact.stdout, "7\n", exact.stderr);
});

Deno.test("a run printing 100 MB streams through with bounded engine memory", async () => {
  await using sandbox = await Sandbox.create();
  const prepared = await prepare(sandbox, ["-c", "select 1"]);
  const pid = (await sandbox.engineInfo())!.pid;
  const peakOf = async () =>
    Number(/VmHWM:\s+(\d+)/.exec(await Deno.readTextFile(`/proc/${pid}/status`))?.[1]) / 1024;
  const before = await peakOf();
  const sql = "select repeat('x', 999) from generate_series(1, 100000)";
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      CLI,
      "run:psql",
      "--instance",
      prepared.instance_id,
      "--",
      "-A",
      "-t",
      "-c",
      sql,
    ],
    env: sandbox.env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let bytes = 0;
  for await (const chunk of output.stdout) bytes += chunk.length;
  const status = await output.status;
  assert.equal(status.code, 0);
  assert.equal(bytes, 100_000 * 1000);
  const after = await peakOf();
  console.log(
    `engine peak RSS: ${before.toFixed(0)} MiB before, ${
      after.toFixed(0)
    } MiB after streaming ${bytes} bytes`,
  );
  // Holding the output would take at least 100 MB raw + 133 MB base64.
  assert.ok(after - before < 200, `engine peak RSS grew by ${(after - before).toFixed(0)} MiB`);
});
