/**
 * The API contract against a real engine: config round trips and refusals, malformed bodies (400
 * naming the field, never a 500), and the CLI's exit codes for them.
 */

import assert from "node:assert/strict";
import { Sandbox } from "./_sandbox.ts";

async function rawRequest(
  sandbox: Sandbox,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; json: { code: string; message: string } }> {
  const info = (await sandbox.engineInfo())!;
  const client = Deno.createHttpClient({
    proxy: { transport: "unix", path: info.endpoint.slice("unix://".length) },
  });
  try {
    const response = await fetch(`http://localhost${path}`, {
      method,
      client,
      headers: { authorization: `Bearer ${info.authToken}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body }),
    });
    return { status: response.status, json: await response.json() };
  } finally {
    client.close();
  }
}

Deno.test("config set, get, get --effective and rm round-trip through the CLI", async () => {
  await using sandbox = await Sandbox.create();
  const set = await sandbox.cliOk([
    "--output",
    "json",
    "config",
    "set",
    "cache.capacity.maxBytes",
    "1000000",
  ]);
  assert.equal(JSON.parse(set.stdout), 1000000);
  assert.equal(
    JSON.parse(
      (await sandbox.cliOk(["--output", "json", "config", "get", "cache.capacity.maxBytes"])).stdout,
    ),
    1000000,
  );
  const all = JSON.parse((await sandbox.cliOk(["--output", "json", "config", "get"])).stdout);
  assert.deepEqual(all, { cache: { capacity: { maxBytes: 1000000 } } });
  const effective = JSON.parse(
    (await sandbox.cliOk(["--output", "json", "config", "get", "--effective"])).stdout,
  );
  assert.equal(effective.orchestrator.jobs.maxIdentical, 2);
  assert.equal(effective.cache.capacity.maxBytes, 1000000);
  // The override survives an engine restart (config.json in the store).
  await sandbox.cliOk(["engine", "stop"]);
  assert.equal(
    JSON.parse(
      (await sandbox.cliOk(["--output", "json", "config", "get", "cache.capacity.maxBytes"])).stdout,
    ),
    1000000,
  );
  const removed = await sandbox.cliOk(["--output", "json", "config", "rm", "cache.capacity.maxBytes"]);
  assert.equal(JSON.parse(removed.stdout), null, "the default after removal");
  const missing = await sandbox.cli(["config", "get", "cache.capacity.maxBytes"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /not set/);
  const strings = await sandbox.cliOk([
    "--output",
    "json",
    "config",
    "set",
    "cache.capacity.minStateAge",
    '"30m"',
  ]);
  assert.equal(JSON.parse(strings.stdout), "30m");
});

Deno.test("config set refuses invalid values and unknown keys with exit 2 and the field named", async () => {
  await using sandbox = await Sandbox.create();
  const wrongType = await sandbox.cli(["config", "set", "cache.capacity.maxBytes", '"lots"']);
  assert.equal(wrongType.code, 2);
  assert.match(wrongType.stderr, /cache\.capacity\.maxBytes/);
  const wrongEnum = await sandbox.cli(["config", "set", "snapshot.backend", '"zfs"']);
  assert.equal(wrongEnum.code, 2);
  assert.match(wrongEnum.stderr, /snapshot\.backend/);
  const unknown = await sandbox.cli(["config", "set", "cache.capasity", "1"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown field "capasity"/);
  const notJson = await sandbox.cli(["config", "set", "cache.capacity.minStateAge", "10m"]);
  assert.equal(notJson.code, 2);
  assert.match(notJson.stderr, /not JSON/);
  const badDuration = await sandbox.cli(["config", "set", "cache.capacity.minStateAge", '"ten minutes"']);
  assert.equal(badDuration.code, 2);
  assert.match(badDuration.stderr, /minStateAge/);
  // Nothing was stored by the refused changes.
  assert.deepEqual(JSON.parse((await sandbox.cliOk(["--output", "json", "config", "get"])).stdout), {});
});

Deno.test("config schema is JSON Schema generated from the engine config", async () => {
  await using sandbox = await Sandbox.create();
  const schema = JSON.parse((await sandbox.cliOk(["--output", "json", "config", "schema"])).stdout);
  assert.match(schema.$schema, /json-schema\.org/);
  assert.equal(schema.properties.snapshot.properties.backend.enum.join(","), "auto,btrfs,overlay,copy");
  assert.equal(schema.properties.orchestrator.properties.jobs.properties.maxIdentical.default, 2);
});

Deno.test("malformed, unknown and mistyped request bodies are 400s naming the field, never 500s", async () => {
  await using sandbox = await Sandbox.create();
  await sandbox.cliOk(["status"]);
  const malformed = await rawRequest(sandbox, "POST", "/v1/prepare-jobs", "{");
  assert.equal(malformed.status, 400);
  assert.equal(malformed.json.code, "invalid_argument");
  assert.match(malformed.json.message, /Malformed JSON/);
  const unknownField = await rawRequest(
    sandbox,
    "POST",
    "/v1/prepare-jobs",
    JSON.stringify({ prepare_kind: "psql", psql_args: ["-c", "select 1"], work_dir: "/tmp", colour: "red" }),
  );
  assert.equal(unknownField.status, 400);
  assert.match(unknownField.json.message, /unknown field "colour"/);
  const wrongType = await rawRequest(
    sandbox,
    "POST",
    "/v1/prepare-jobs",
    JSON.stringify({ prepare_kind: "psql", psql_args: "-c select 1", work_dir: "/tmp" }),
  );
  assert.equal(wrongType.status, 400);
  assert.match(wrongType.json.message, /psql_args/);
  const wrongKind = await rawRequest(
    sandbox,
    "POST",
    "/v1/prepare-jobs",
    JSON.stringify({ prepare_kind: "mysql" }),
  );
  assert.equal(wrongKind.status, 400);
  assert.match(wrongKind.json.message, /prepare_kind/);
  const badRun = await rawRequest(
    sandbox,
    "POST",
    "/v1/runs",
    JSON.stringify({ instance_ref: "x", kind: "psql", args: [1] }),
  );
  assert.equal(badRun.status, 400);
  assert.match(badRun.json.message, /args\.0/);
  const badConfig = await rawRequest(sandbox, "PATCH", "/v1/config", JSON.stringify({ value: 1 }));
  assert.equal(badConfig.status, 400);
  assert.match(badConfig.json.message, /path/);
  const unknownRoute = await rawRequest(sandbox, "GET", "/v1/nothing");
  assert.equal(unknownRoute.status, 404);
  const wrongMethod = await rawRequest(sandbox, "PUT", "/v1/config");
  assert.equal(wrongMethod.status, 405);
  const unknownJob = await rawRequest(sandbox, "GET", `/v1/prepare-jobs/${"0".repeat(32)}`);
  assert.equal(unknownJob.status, 404);
});

Deno.test("list endpoints answer a JSON array, or NDJSON when the client asks for it", async () => {
  await using sandbox = await Sandbox.create();
  await sandbox.cliOk(["prepare:psql", "--", "-c", "create table a(id int)"]);
  await sandbox.cliOk(["prepare:psql", "--", "-c", "create table b(id int)"]);
  const info = (await sandbox.engineInfo())!;
  const client = Deno.createHttpClient({
    proxy: { transport: "unix", path: info.endpoint.slice("unix://".length) },
  });
  try {
    for (const path of ["/v1/instances", "/v1/states", "/v1/prepare-jobs", "/v1/tasks", "/v1/names"]) {
      const headers = { authorization: `Bearer ${info.authToken}` };
      const array = await fetch(`http://localhost${path}`, { client, headers });
      assert.match(array.headers.get("content-type") ?? "", /application\/json/, path);
      const items = await array.json();
      assert.ok(Array.isArray(items), path);
      const ndjson = await fetch(`http://localhost${path}`, {
        client,
        headers: { ...headers, accept: "application/x-ndjson" },
      });
      assert.match(ndjson.headers.get("content-type") ?? "", /application\/x-ndjson/, path);
      const lines = (await ndjson.text()).split("\n").filter((line) => line !== "");
      assert.deepEqual(lines.map((line) => JSON.parse(line)), items, path);
    }
  } finally {
    client.close();
  }
});

Deno.test("psql arguments the planner refuses are 400s before any job exists", async () => {
  await using sandbox = await Sandbox.create();
  const refused = await sandbox.cli(["prepare:psql", "--", "-h", "db.example.com", "-c", "select 1"]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /-h/);
  const missing = await sandbox.cli(["prepare:psql", "--", "-f", "does-not-exist.sql"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /does-not-exist\.sql/);
  const contradiction = await sandbox.cli(["prepare:psql", "--", "-v", "ON_ERROR_STOP=0", "-c", "select 1"]);
  assert.equal(contradiction.code, 2);
  assert.match(contradiction.stderr, /ON_ERROR_STOP/);
  const jobs = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--jobs"])).stdout).jobs;
  assert.equal(jobs.length, 0);
});

Deno.test("--help works on every command and --version prints the version", async () => {
  await using sandbox = await Sandbox.create();
  const version = await sandbox.cliOk(["--version"]);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  for (
    const command of [
      "status",
      "config",
      "prepare:psql",
      "plan:psql",
      "run:psql",
      "run:pgbench",
      "ls",
      "rm",
      "watch",
      "engine",
    ]
  ) {
    const help = await sandbox.cliOk([command, "--help"]);
    assert.match(help.stdout, /Usage: sqlrs/, command);
  }
  const unknown = await sandbox.cli(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command/);
});
