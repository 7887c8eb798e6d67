/**
 * Following a job in the CLI: the client's job follower (which survives engine restarts) drawn as
 * progress (see `progress_view.ts`), plus Ctrl+C handling. On a terminal, finished steps scroll up
 * and each running step has a live line with its time, in colour unless `NO_COLOR` is set; off a
 * terminal, one plain line per finished step. Both end with a cached/ran summary; `-v` adds every
 * event (the phases of each kept state among them). On a terminal, Ctrl+C opens the control prompt
 * (stop / detach / continue; Ctrl+C at the prompt detaches); off a terminal, Ctrl+C cancels the job
 * and a second one detaches.
 *
 * @module
 */

import type { EngineClient } from "../client/engine_client.ts";
import { followJobEvents } from "../client/follow_job.ts";
import type { PrepareJobEvent, PrepareJobStatus } from "../shared/schemas.ts";
import { controlPrompt } from "./control_prompt.ts";
import { err } from "./output.ts";
import { fitWidth, ProgressView } from "./progress_view.ts";

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
  /** Draw live lines on stderr (default: when stderr is a terminal). */
  live?: boolean;
  /** Whether Ctrl+C opens the control prompt (default: when stdin and stderr are terminals). */
  interactive?: boolean;
  /** Steps' files are shown relative to this directory, the job's `work_dir` (default: the current one). */
  labelsRelativeTo?: string | undefined;
  /** A plan job: no line per step. */
  planOnly?: boolean | undefined;
}

/** The bottom of the terminal: lines printed above it scroll up; its own lines are redrawn. */
class LiveRegion {
  #drawn = 0;
  #lines: () => string[];

  constructor(lines: () => string[]) {
    this.#lines = lines;
  }

  /** Prints `text` above the live lines. */
  print(text: string): void {
    this.#write(`${this.#erase()}${text}\n${this.#render()}`);
  }

  redraw(): void {
    this.#write(this.#erase() + this.#render());
  }

  clear(): void {
    this.#write(this.#erase());
  }

  #erase(): string {
    const up = this.#drawn > 1 ? `\x1b[${this.#drawn - 1}A` : "";
    this.#drawn = 0;
    return `\r${up}\x1b[J`;
  }

  #render(): string {
    let width = 0;
    try {
      width = Deno.consoleSize().columns;
    } catch {
      // not a terminal after all
    }
    // A pseudo-terminal nobody sized reports 0 columns.
    if (width < 20) width = 80;
    // A line as wide as the terminal would wrap and break the count of lines to erase.
    const lines = this.#lines().map((line) => fitVisible(line, width - 1));
    this.#drawn = lines.length;
    return lines.join("\n");
  }

  #write(text: string): void {
    Deno.stderr.writeSync(encoder.encode(text));
  }
}

/** Cuts a line with colour codes to `width` visible characters (by dropping the codes if needed). */
function fitVisible(line: string, width: number): string {
  // deno-lint-ignore no-control-regex -- ANSI colour codes
  const plain = line.replace(/\x1b\[[0-9;]*m/g, "");
  return plain.length <= width ? line : fitWidth(plain, width);
}

/** Prints what {@link followJob} would for a job that succeeded as a cache hit, without reading its events. */
export function reportCacheHit(
  status: PrepareJobStatus,
  options: { labelsRelativeTo?: string | undefined },
): void {
  const color = Deno.stderr.isTerminal() && (Deno.env.get("NO_COLOR") ?? "") === "";
  const view = new ProgressView({ color, cwd: options.labelsRelativeTo ?? Deno.cwd() });
  for (const line of view.cacheHit(status)) err(line);
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
  const live = options.live ?? Deno.stderr.isTerminal();
  const interactive = options.interactive ?? (Deno.stdin.isTerminal() && Deno.stderr.isTerminal());
  const color = live && (Deno.env.get("NO_COLOR") ?? "") === "";
  const view = new ProgressView({
    color,
    cwd: options.labelsRelativeTo ?? Deno.cwd(),
    planOnly: options.planOnly,
  });
  const region = live ? new LiveRegion(() => view.runningLines(Date.now())) : undefined;
  let prompting = false;
  // Lines that end while the control prompt waits for an answer are shown after it.
  const held: string[] = [];
  const print = (text: string) => {
    if (region === undefined) err(text);
    else if (prompting) held.push(text);
    else region.print(text);
  };
  let cancelled = false;
  const detach = new AbortController();
  const cancel = () => {
    cancelled = true;
    client.cancelJob(jobId).catch((error) =>
      err(`sqlrs: cannot cancel job ${jobId}: ${(error as Error).message}`)
    );
  };
  const onInterrupt = () => {
    if (prompting || (!interactive && cancelled)) {
      detach.abort();
    } else if (!interactive) {
      err(`\ncancelling job ${jobId} (Ctrl+C again to detach and leave it running)`);
      cancel();
    } else {
      prompting = true;
      region?.clear();
      // A terminal that cannot be read (closed meanwhile) leaves the job followed as before.
      controlPrompt(jobId).catch(() => "continue" as const).then((choice) => {
        prompting = false;
        for (const line of held.splice(0)) print(line);
        if (choice === "stop") {
          err(`cancelling job ${jobId}`);
          cancel();
        } else if (choice === "detach") detach.abort();
      });
    }
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  const ticker = region === undefined ? undefined : setInterval(() => {
    if (!prompting) region.redraw();
  }, 200);
  try {
    const events = followJobEvents(client, jobId, {
      signal: detach.signal,
      stallTimeoutMs: options.stallTimeoutMs,
    });
    for (let next = await events.next();; next = await events.next()) {
      if (next.done) {
        if (next.value !== undefined) {
          const summary = view.summary(next.value);
          if (summary !== undefined) print(summary);
        }
        return next.value;
      }
      const event = next.value;
      // The tasks, not the job's status: the first read of a finished job's status lets retention
      // delete it, and the follower reads that status once, at the end.
      if (view.needsPlan(event)) view.setPlan(await client.listTasks(jobId));
      if (options.verbose) print(`${event.ts} ${describe(event)}`);
      for (const line of view.onEvent(event)) print(line);
    }
  } finally {
    if (ticker !== undefined) clearInterval(ticker);
    region?.clear();
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}
