import assert from "node:assert/strict";
import { ApiError, EngineClient, EngineUnreachableError } from "./engine_client.ts";
import { serve } from "./_test_server.ts";

const stopping = () =>
  Response.json({ code: "unavailable", message: "stopping" }, {
    status: 503,
    headers: { "x-sqlrs-stopping": "true" },
  });

Deno.test("EngineClient.request() sends a POST the stopping engine refused to the next engine", async () => {
  const seen: string[] = [];
  await using old = serve(() => stopping());
  await using next = serve((request) => {
    seen.push(request.method);
    return Response.json({ ok: true });
  });
  using client = new EngineClient(old.address, { reconnect: () => Promise.resolve(next.address) });
  const response = await client.request("POST", "/v1/prepare-jobs", { body: {} });
  assert.deepEqual(await response.json(), { ok: true });
  assert.deepEqual(seen, ["POST"]);
  assert.equal(client.address.endpoint, next.address.endpoint);
});

Deno.test("EngineClient.request() does not repeat a request the engine answered with an error", async () => {
  let calls = 0;
  await using engine = serve(() => {
    calls++;
    return Response.json({ code: "internal_error", message: "boom" }, { status: 500 });
  });
  using client = new EngineClient(engine.address, { reconnect: () => Promise.resolve(engine.address) });
  await assert.rejects(client.request("POST", "/v1/prepare-jobs", { body: {} }), ApiError);
  assert.equal(calls, 1);
});

Deno.test("EngineClient.request() gives up with EngineUnreachableError after reachTimeoutMs", async () => {
  const gone = { endpoint: "unix:///nonexistent/sqlrs-engine.sock", token: "t" };
  let reconnects = 0;
  using client = new EngineClient(gone, {
    reachTimeoutMs: 300,
    reconnect: () => (reconnects++, Promise.resolve(gone)),
  });
  const error = await client.request("GET", "/v1/status").catch((error) => error);
  assert.ok(error instanceof EngineUnreachableError, String(error));
  assert.match(error.message, /within 300 ms/);
  assert.ok(reconnects >= 1);
});

Deno.test("EngineClient.request() without reconnect fails at once when the engine is stopping", async () => {
  await using old = serve(() => stopping());
  using client = new EngineClient(old.address);
  const error = await client.request("GET", "/v1/status").catch((error) => error);
  assert.ok(error instanceof EngineUnreachableError && error.notDelivered, String(error));
});
