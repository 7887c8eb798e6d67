/**
 * Following a job: reads its event stream (resuming with `Range` if the connection drops), shows
 * a live progress line on a terminal or one line per event with `-v`, and resolves with the final
 * job status. Ctrl+C once cancels the job; twice detaches.
 *
 * @module
 */

import type { EngineClient } from "../client/engine_client.ts";
import { followJobEvents } from "../client/job_events.ts";
import { isJobFinished, type PrepareJobEvent, type PrepareJobStatus } from "../shared/schemas.ts";
import { err } from "./output.ts";

const encoder = new TextEncoder();

function describe(event: PrepareJobEvent): string {
  switch (event.type) {
    case "status":
      return `job ${event.status}`;
    case "task":
      return `${event.task_id} ${event.status}${event.message ? ` (${event.message})` : ""}`;
    case "log":
      return `${event.task_id ? `${event.task_id}: ` : ""}${event.message ?? ""}`;
    case "result":
      return `result: state ${event.result?.state_id.slice(0, 12)} instance ${event.result?.instance_id}`;
    case "error":
      return `error: ${event.error?.message ?? ""}`;
  }
}

/** Options of {@link followJob}. */
export interface FollowOptions {
  verbose: boolean;
  /** Show a live line on stderr (default: when stderr is a terminal). */
  live?: boolean;
}

/** Follows a job to its end and returns its final status. */
export async function followJob(
  client: EngineClient,
  jobId: string,
  options: FollowOptions,
): Promise<PrepareJobStatus> {
  const live = options.live ?? (Deno.stderr.isTerminal() && !options.verbose);
  const started = Date.now();
  let current = "queued";
  let interrupts = 0;
  const detach = new AbortController();
  const onInterrupt = () => {
    interrupts++;
    if (interrupts === 1) {
      err(`\ncancelling job ${jobId} (Ctrl+C again to detach and leave it running)`);
      client.cancelJob(jobId).catch(() => {});
    } else detach.abort();
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  const draw = () => {
    if (!live) return;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${current} ${seconds}s`));
  };
  const ticker = live ? setInterval(draw, 200) : undefined;
  try {
    for await (const event of followJobEvents(client, jobId, { signal: detach.signal })) {
      if (options.verbose) err(`${event.ts} ${describe(event)}`);
      if (event.type === "task" || event.type === "status") current = describe(event);
      draw();
    }
  } finally {
    if (ticker !== undefined) clearInterval(ticker);
    if (live) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
  const status = await client.job(jobId);
  if (detach.signal.aborted && !isJobFinished(status.status)) {
    err(`detached: job ${jobId} keeps running; follow it with "sqlrs watch ${jobId}"`);
  }
  return status;
}
