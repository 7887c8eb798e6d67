/**
 * Following a job in the CLI: the client's job follower (which survives engine restarts) plus a
 * live progress line on a terminal or one line per event with `-v`, and Ctrl+C handling. On a
 * terminal, Ctrl+C opens the control prompt (stop / detach / continue; Ctrl+C at the prompt
 * detaches); off a terminal, Ctrl+C cancels the job and a second one detaches.
 *
 * @module
 */

import type { EngineClient } from "../client/engine_client.ts";
import { followJob as followJobToEnd } from "../client/follow_job.ts";
import type { PrepareJobEvent, PrepareJobStatus } from "../shared/schemas.ts";
import { controlPrompt } from "./control_prompt.ts";
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
  /** The follower's patience with a job whose stream keeps ending (the `--timeout`), in ms. */
  stallTimeoutMs?: number | undefined;
  /** Show a live line on stderr (default: when stderr is a terminal). */
  live?: boolean;
  /** Whether Ctrl+C opens the control prompt (default: when stdin and stderr are terminals). */
  interactive?: boolean;
}

/**
 * Follows a job to its end and returns its final status, or `undefined` when the user detached
 * (the job keeps running).
 */
export async function followJob(
  client: EngineClient,
  jobId: string,
  options: FollowOptions,
): Promise<PrepareJobStatus | undefined> {
  const live = options.live ?? (Deno.stderr.isTerminal() && !options.verbose);
  const interactive = options.interactive ?? (Deno.stdin.isTerminal() && Deno.stderr.isTerminal());
  const started = Date.now();
  let current = "queued";
  let prompting = false;
  let cancelled = false;
  const detach = new AbortController();
  const cancel = () => {
    cancelled = true;
    client.cancelJob(jobId).catch((error) =>
      err(`sqlrs: cannot cancel job ${jobId}: ${(error as Error).message}`)
    );
  };
  const draw = () => {
    if (!live || prompting) return;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${current} ${seconds}s`));
  };
  const onInterrupt = () => {
    if (prompting || (!interactive && cancelled)) {
      detach.abort();
    } else if (!interactive) {
      err(`\ncancelling job ${jobId} (Ctrl+C again to detach and leave it running)`);
      cancel();
    } else {
      prompting = true;
      // A terminal that cannot be read (closed meanwhile) leaves the job followed as before.
      controlPrompt(jobId).catch(() => "continue" as const).then((choice) => {
        prompting = false;
        if (choice === "stop") {
          err(`cancelling job ${jobId}`);
          cancel();
        } else if (choice === "detach") detach.abort();
      });
    }
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  const ticker = live ? setInterval(draw, 200) : undefined;
  try {
    return await followJobToEnd(client, jobId, {
      signal: detach.signal,
      stallTimeoutMs: options.stallTimeoutMs,
      onEvent: (event) => {
        if (options.verbose) err(`${event.ts} ${describe(event)}`);
        if (event.type === "task" || event.type === "status") current = describe(event);
        draw();
      },
    });
  } finally {
    if (ticker !== undefined) clearInterval(ticker);
    if (live) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}
