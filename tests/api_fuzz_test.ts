/**
 * Hostile input against a real engine: every route with malformed JSON, wrong types, unknown fields,
 * huge ids and prefixes, path traversal and bad work dirs. The engine must answer each with a 4xx in
 * the ErrorResponse shape (never a 5xx), and a run's stream must always end with `error` or `exit`.
 *
 * The inputs come from a seeded generator, so a failure names a request that can be replayed.
 */

import assert from "node:assert/strict";
import { ErrorResponse, RunEvent } from "../shared/schemas.ts";
import { parseNdjson } from "../shared/ndjson.ts";
import { Sandbox } from "./_sandbox.ts";

/** A small deterministic generator (mulberry32), so that a failing request can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE_STRINGS = [
  "",
  "a".repeat(50_000),
  "f".repeat(50_000),
  "0123456789abcdef".repeat(1000),
  "../../../etc",
  "/etc/passwd",
  "%2e%2e%2f%2e%2e%2fetc",
  "名前\u0000\u202e",
  "%",
  "_%_%_%",
  "*?[",
  "relative/dir",
];

const HOSTILE_VALUES: unknown[] = [
  ...HOSTILE_STRINGS,
  "0123456789abcdef".repeat(640_000),
  null,
  0,
  -1,
  1e308,
  true,
  [],
  {},
  ["-c", "select 1"],
  { nested: { deep: [1, 2, 3] } },
];

interface RouteTemplate {
  method: string;
  path: string;
  /** A valid body to mutate, for routes that take one. */
  body?: Record<string, unknown>;
}

const ROUTES: RouteTemplate[] = [
  { method: "GET", path: "/v1/status" },
  { method: "GET", path: "/v1/config?path={}" },
  { method: "PATCH", path: "/v1/config", body: { path: "cache.capacity.maxBytes", value: 1000 } },
  { method: "DELETE", path: "/v1/config?path={}" },
  { method: "POST", path: "/v1/prepare-jobs", body: { prepare_kind: "psql", psql_args: ["-c", "select 1"] } },
  { method: "GET", path: "/v1/prepare-jobs/{}" },
  { method: "POST", path: "/v1/prepare-jobs/{}/cancel" },
  { method: "DELETE", path: "/v1/prepare-jobs/{}" },
  { method: "GET", path: "/v1/prepare-jobs/{}/events" },
  {
    method: "POST",
    path: "/v1/cache/explain/prepare",
    body: { prepare_kind: "psql", psql_args: ["-c", "select 1"] },
  },
  { method: "GET", path: "/v1/tasks?job={}" },
  { method: "GET", path: "/v1/instances?id_prefix={}" },
  { method: "GET", path: "/v1/instances?state={}" },
  { method: "GET", path: "/v1/instances/{}" },
  { method: "DELETE", path: "/v1/instances/{}?dry_run=1" },
  { method: "POST", path: "/v1/instances/prune", body: { dry_run: true } },
  { method: "GET", path: "/v1/states?id_prefix={}" },
  { method: "GET", path: "/v1/states/{}" },
  { method: "DELETE", path: "/v1/states/{}?dry_run=1" },
  { method: "GET", path: "/v1/names/{}" },
  { method: "POST", path: "/v1/runs", body: { instance_ref: "dev", kind: "psql", args: ["-c", "select 1"] } },
  { method: "POST", path: "/v1/sources", body: { files: { "/w/a.sql": "ab".repeat(32) } } },
  { method: "PUT", path: "/v1/sources/blobs/{}?offset=0&size=1" },
  {
    method: "POST",
    path: "/v1/prepare-jobs",
    body: { prepare_kind: "psql", psql_args: ["-f", "/w/a.sql"], work_dir: "/w", source_id: "ab".repeat(32) },
  },
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** A hostile variant of one route: a mutated path parameter or query value, or a mutated body. */
function mutate(random: () => number, route: RouteTemplate): { path: string; body?: string } {
  const value = pick(random, HOSTILE_STRINGS);
  const path = route.path.replace("{}", encodeURIComponent(value));
  // A body can be large; a URL past 64 KiB is refused by the client before it is sent.
  if (route.body === undefined) return { path };
  const roll = random();
  if (roll < 0.2) return { path, body: pick(random, ["", "{", "[1,", "null", '"text"', "{}".repeat(1000)]) };
  const body: Record<string, unknown> = { ...route.body };
  const keys = [...Object.keys(route.body), "unknown_field", "work_dir", "image_id", "name", "ttl", "files"];
  for (let i = 0; i < 1 + Math.floor(random() * 3); i++) {
    body[pick(random, keys)] = pick(random, HOSTILE_VALUES);
  }
  return { path, body: JSON.stringify(body) };
}

async function send(
  endpoint: string,
  token: string,
  method: string,
  path: string,
  body: string | undefined,
): Promise<Response> {
  const client = Deno.createHttpClient({
    proxy: { transport: "unix", path: endpoint.slice("unix://".length) },
  });
  try {
    const response = await fetch(`http://localhost${path}`, {
      method,
      client,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body }),
    });
    // Read it all while the client is open.
    return new Response(await response.arrayBuffer(), { status: response.status, headers: response.headers });
  } finally {
    client.close();
  }
}

/** Checks one answer: no 5xx; an error is an ErrorResponse; a run's stream ends with error or exit. */
async function checkAnswer(what: string, path: string, response: Response): Promise<void> {
  const text = (await response.clone().text()).slice(0, 500);
  assert.ok(response.status < 500, `${what}: answered ${response.status}: ${text}`);
  const type = response.headers.get("content-type") ?? "";
  if (response.status >= 400) {
    assert.ok(ErrorResponse.safeParse(await response.json()).success, `${what}: not an ErrorResponse`);
    return;
  }
  if (path === "/v1/runs" && type.includes("ndjson")) {
    const events: RunEvent[] = [];
    for await (const event of parseNdjson(response.body!)) events.push(RunEvent.parse(event));
    const last = events.at(-1)?.type;
    assert.ok(last === "error" || last === "exit", `${what}: the run's stream ended with ${last}`);
  }
}

Deno.test("fuzzing every route: no 5xx, errors in the ErrorResponse shape, run streams end with error or exit", async () => {
  await using sandbox = await Sandbox.create();
  await sandbox.cliOk(["prepare:psql", "--name", "dev", "--", "-c", "create table t(x int)"]);
  const info = (await sandbox.engineInfo())!;
  // The cases seen in the field first, then the generated ones.
  const hugeRef = JSON.stringify({ instance_ref: "ab".repeat(5_000_000), kind: "psql", args: [] });
  await checkAnswer(
    "huge instance_ref",
    "/v1/runs",
    await send(info.endpoint, info.authToken, "POST", "/v1/runs", hugeRef),
  );
  const longPrefix = `/v1/instances?id_prefix=${"a".repeat(50_000)}`;
  await checkAnswer(
    "long id_prefix",
    "/v1/instances",
    await send(info.endpoint, info.authToken, "GET", longPrefix, undefined),
  );
  const random = seeded(20261130);
  for (let round = 0; round < 12; round++) {
    for (const route of ROUTES) {
      const { path, body } = mutate(random, route);
      const what = `${route.method} ${path.slice(0, 120)} ${body?.slice(0, 200) ?? ""}`;
      const response = await send(info.endpoint, info.authToken, route.method, path, body);
      await checkAnswer(what, new URL(path, "http://x").pathname, response);
    }
  }
});

Deno.test("runs with a missing, relative or non-directory work_dir are 400s before any stream", async () => {
  await using sandbox = await Sandbox.create();
  await sandbox.cliOk(["prepare:psql", "--name", "dev", "--", "-c", "select 1"]);
  const info = (await sandbox.engineInfo())!;
  const file = `${sandbox.dir}/a-file`;
  await Deno.writeTextFile(file, "");
  for (const workDir of [`${sandbox.dir}/missing`, "relative/dir", file]) {
    const body = JSON.stringify({
      instance_ref: "dev",
      kind: "psql",
      args: ["-c", "select 1"],
      work_dir: workDir,
    });
    const response = await send(info.endpoint, info.authToken, "POST", "/v1/runs", body);
    assert.equal(response.status, 400, `${workDir}: ${await response.clone().text()}`);
    const error = ErrorResponse.parse(await response.json());
    assert.equal(error.code, "invalid_argument");
    assert.match(error.message, /work_dir/);
  }
});

Deno.test("an image id with a path in it is a 400, not a 503", async () => {
  await using sandbox = await Sandbox.create();
  await sandbox.cliOk(["status"]);
  const info = (await sandbox.engineInfo())!;
  for (const image of ["../../../etc", "host:../../etc", "/etc"]) {
    const body = JSON.stringify({ prepare_kind: "psql", psql_args: ["-c", "select 1"], image_id: image });
    const response = await send(info.endpoint, info.authToken, "POST", "/v1/prepare-jobs", body);
    assert.equal(response.status, 400, `${image}: ${await response.clone().text()}`);
  }
});
