import assert from "node:assert/strict";
import type { PrepareJobStatus } from "../shared/schemas.ts";
import { EngineClient } from "./engine_client.ts";
import { followJob, requireSucceeded } from "./follow_job.ts";
import { serve } from "./_test_server.ts";

const ts = "2026-01-01T00:00:00.000Z";

function jobStatus(status: PrepareJobStatus["status"]): PrepareJobStatus {
  return {
    job_id: "j1",
    status,
    prepare_kind: "psql",
    image_id: "host",
    plan_only: false,
    prepare_args_normalized: "-c 'select 1'",
    created_at: ts,
    started_at: ts,
    finished_at: status === "running" ? null : ts,
    tasks: [],
    result: null,
    error: null,
  };
}

function events(from: number, to: number): string {
  return Array.from(
    { length: to - from },
    (_, i) => `${JSON.stringify({ type: "log", ts, message: `e${from + i}` })}\n`,
  )
    .join("");
}

Deno.test("followJob() goes on with the next engine when the stream ends while the job runs", async () => {
  const ranges: string[] = [];
  let stopped = false;
  // The old engine streams two events and ends the stream (it is stopping); then it refuses everything.
  await using old = serve(() => {
    if (stopped) {
      return Response.json({ code: "unavailable", message: "stopping" }, {
        status: 503,
        headers: { "x-sqlrs-stopping": "true" },
      });
    }
    stopped = true;
    return new Response(events(0, 2), { headers: { "content-type": "application/x-ndjson" } });
  });
  // The next engine resumed the job: it serves the rest from the Range asked for, then the end.
  await using next = serve((request) => {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/events")) {
      const range = request.headers.get("range") ?? "";
      ranges.push(range);
      const from = Number(/^events=(\d+)-$/.exec(range)?.[1]);
      return new Response(events(from, 4), { headers: { "content-type": "application/x-ndjson" } });
    }
    return Response.json(jobStatus("succeeded"));
  });
  using client = new EngineClient(old.address, { reconnect: () => Promise.resolve(next.address) });
  const seen: string[] = [];
  const status = await followJob(client, "j1", { onEvent: (event) => seen.push(event.message ?? "") });
  assert.equal(status?.status, "succeeded");
  assert.deepEqual(seen, ["e0", "e1", "e2", "e3"]);
  assert.equal(ranges[0], "events=2-");
});

Deno.test("followJob() gives up with unavailable when a running job's stream keeps ending", async () => {
  await using engine = serve((request) =>
    new URL(request.url).pathname.endsWith("/events")
      ? new Response("", { headers: { "content-type": "application/x-ndjson" } })
      : Response.json(jobStatus("running"))
  );
  using client = new EngineClient(engine.address);
  await assert.rejects(
    followJob(client, "j1", { stallTimeoutMs: 300 }),
    (error: { code?: string; message?: string }) =>
      error.code === "unavailable" && /running, but its event stream keeps ending/.test(error.message ?? ""),
  );
});

Deno.test("requireSucceeded() maps each end of a job to one outcome", () => {
  assert.equal(requireSucceeded(jobStatus("succeeded")).status, "succeeded");
  const failed = {
    ...jobStatus("failed"),
    error: { code: "step_failed", message: 'relation "x" does not exist' },
  };
  assert.throws(() => requireSucceeded(failed), {
    code: "step_failed",
    message: 'relation "x" does not exist',
  });
  assert.throws(() => requireSucceeded(jobStatus("cancelled")), {
    code: "cancelled",
    message: "Job j1 was cancelled",
  });
  assert.throws(() => requireSucceeded(jobStatus("running")), { code: "unavailable" });
});
