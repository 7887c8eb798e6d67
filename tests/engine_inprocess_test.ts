/**
 * The engine built in process with `createEngine` (a real copy-backend store and the host runtime) and
 * driven through its API as a function: no socket, no CLI, no engine process.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeBase64 } from "../engine/run/base64.ts";
import type { PrepareJobStatus, RunEvent } from "../shared/schemas.ts";
import { call, inProcessEngine, json } from "./_inprocess.ts";

/** Every path under `root` whose last part starts with one of `names`. */
async function pathsNamed(root: string, names: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    const path = join(root, entry.name);
    if (names.some((name) => entry.name.startsWith(name))) found.push(path);
    else if (entry.isDirectory && !entry.isSymlink) found.push(...await pathsNamed(path, names));
  }
  return found;
}

/** The NDJSON lines of a stream, to its end. */
async function ndjson<T>(response: Response): Promise<T[]> {
  assert.equal(response.status, 200);
  const text = await response.text();
  return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as T);
}

Deno.test("createEngine: prepare, query the instance, delete it and its state, all through app.fetch", async () => {
  await using env = await inProcessEngine();
  const { engine } = env;
  const accepted = await json<{ job_id: string; events_url: string }>(
    await call(
      engine,
      "POST",
      "/v1/prepare-jobs",
      JSON.stringify({
        prepare_kind: "psql",
        psql_args: ["-c", "create table t(id int); insert into t values (42)"],
        work_dir: env.dir,
      }),
    ),
    201,
  );
  // The event stream ends when the job does.
  const events = await ndjson<{ type: string; status?: string }>(
    await call(engine, "GET", accepted.events_url),
  );
  assert.deepEqual(events.filter((event) => event.type === "status").map((event) => event.status), [
    "queued",
    "running",
    "succeeded",
  ]);
  // Past the end of a finished job's log: a 416 that says how many events there are.
  const beyond = await engine.fetch(
    new Request(`http://engine${accepted.events_url}`, {
      headers: { authorization: `Bearer ${engine.token}`, range: `events=${events.length + 1}-` },
    }),
  );
  assert.equal(beyond.headers.get("content-range"), `events */${events.length}`);
  assert.equal((await json<{ code: string }>(beyond, 416)).code, "range_not_satisfiable");
  const job = await json<PrepareJobStatus>(
    await call(engine, "GET", `/v1/prepare-jobs/${accepted.job_id}`),
    200,
  );
  const result = job.result;
  assert.ok(result !== undefined && result !== null, JSON.stringify(job));

  const run = await ndjson<RunEvent>(
    await call(
      engine,
      "POST",
      "/v1/runs",
      JSON.stringify({
        instance_ref: result.instance_id,
        kind: "psql",
        args: ["-A", "-t", "-c", "select id from t"],
      }),
    ),
  );
  const stdout = run.filter((event) => event.type === "stdout").map((event) =>
    new TextDecoder().decode(decodeBase64(event.data ?? ""))
  ).join("");
  assert.equal(stdout.trim(), "42");
  assert.equal(run.find((event) => event.type === "exit")?.exit_code, 0);

  // The state cannot go while its instance uses it.
  const blocked = await json<{ outcome: string }>(
    await call(engine, "DELETE", `/v1/states/${result.state_id}`),
    409,
  );
  assert.equal(blocked.outcome, "blocked");
  const deleted = await json<{ outcome: string }>(
    await call(engine, "DELETE", `/v1/instances/${result.instance_id}`),
    200,
  );
  assert.equal(deleted.outcome, "deleted");
  await json(await call(engine, "GET", `/v1/instances/${result.instance_id}`), 404);
  const stateDeleted = await json<{ outcome: string }>(
    await call(engine, "DELETE", `/v1/states/${result.state_id}`),
    200,
  );
  assert.equal(stateDeleted.outcome, "deleted");
  assert.deepEqual(await json(await call(engine, "GET", "/v1/states"), 200), []);
  // Nothing of the state or the instance is left in the store.
  assert.deepEqual(await pathsNamed(join(env.dir, "store"), [result.state_id, result.instance_id]), []);
});

Deno.test("createEngine: a malformed or incomplete request is a 400 naming the problem, never a 500", async () => {
  await using env = await inProcessEngine();
  const { engine } = env;
  const broken = await json<{ code: string; message: string }>(
    await call(engine, "POST", "/v1/prepare-jobs", "{not json"),
    400,
  );
  assert.equal(broken.code, "invalid_argument");
  const incomplete = await json<{ code: string; message: string }>(
    await call(
      engine,
      "POST",
      "/v1/prepare-jobs",
      JSON.stringify({ prepare_kind: "psql", work_dir: "/tmp" }),
    ),
    400,
  );
  assert.equal(incomplete.code, "invalid_argument");
  assert.match(incomplete.message, /psql_args/);
  const unauthenticated = await engine.fetch(new Request("http://engine/v1/states"));
  assert.equal(unauthenticated.status, 401);
  await unauthenticated.body?.cancel();
  await json(await call(engine, "GET", "/v1/no-such-endpoint"), 404);
});

Deno.test("a build server runs without fsync (its kept states are made durable by the snapshot); an instance with it", async () => {
  await using env = await inProcessEngine();
  const { engine } = env;
  const body = JSON.stringify({
    prepare_kind: "psql",
    psql_args: ["-c", "create table built_with as select current_setting('fsync') as fsync"],
    work_dir: env.dir,
  });
  const accepted = await json<{ job_id: string; events_url: string }>(
    await call(engine, "POST", "/v1/prepare-jobs", body),
    201,
  );
  await (await call(engine, "GET", accepted.events_url)).text();
  const status = await json<PrepareJobStatus>(
    await call(engine, "GET", `/v1/prepare-jobs/${accepted.job_id}`),
    200,
  );
  assert.ok(status.result !== null, JSON.stringify(status.error));
  const query = async (sql: string) => {
    const output = await new Deno.Command("psql", {
      args: ["-X", "-A", "-t", "-c", sql, status.result?.dsn as string],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    return new TextDecoder().decode(output.stdout).trim();
  };
  assert.equal(await query("select fsync from built_with"), "off");
  assert.equal(await query("show fsync"), "on");
});
