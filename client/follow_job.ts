/**
 * Following a prepare job to its end, whatever happens to the engine meanwhile, and what its end
 * means to a caller. Used by the CLI (`prepare`, `watch`, the composite form) and by `mod.ts`.
 *
 * The event stream is resumed with `Range` from the last event seen. A stream that ends (or breaks)
 * while the job is not finished means the engine went away: the client's requests then find or
 * start the next engine (which resumes the job from the durable registry), and following goes on
 * there, within the client's reach timeout.
 *
 * @module
 */

import { isJobFinished, type PrepareJobEvent, type PrepareJobStatus } from "../shared/schemas.ts";
import { messageOf, SqlrsError } from "../shared/errors.ts";
import type { EngineClient } from "./engine_client.ts";

/** Options of {@link followJobEvents}. */
export interface FollowJobOptions {
  /** The index of the first event wanted. @default 0 */
  from?: number | undefined;
  /** Stops following (the iteration ends, with no status); the job itself is not cancelled. */
  signal?: AbortSignal | undefined;
  /**
   * How long a job may stay unfinished while its event stream keeps ending without new events
   * before following gives up with `unavailable`. @default 30000
   */
  stallTimeoutMs?: number | undefined;
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * Yields a job's events from `options.from` on until the job is finished, and returns its final
 * status (or `undefined` when `options.signal` stopped the following first).
 *
 * @throws {EngineUnreachableError} when no engine can be reached within the client's reach timeout
 * @throws {ApiError} `not_found` when the engine does not know the job
 * @throws {SqlrsError} `unavailable` when the job stays unfinished with no events for `stallTimeoutMs`
 * @example
 * ```ts ignore
 * const events = followJobEvents(client, jobId);
 * for (let next = await events.next(); !next.done; next = await events.next()) {
 *   console.log(next.value.type);
 * }
 * ```
 */
export async function* followJobEvents(
  client: EngineClient,
  jobId: string,
  options: FollowJobOptions = {},
): AsyncGenerator<PrepareJobEvent, PrepareJobStatus | undefined, undefined> {
  const signal = options.signal;
  const stallTimeoutMs = options.stallTimeoutMs ?? 30_000;
  let seen = options.from ?? 0;
  let stalledSince: number | undefined;
  let streamError: unknown;
  // Reads the stream from `seen` on; a broken stream is judged afterwards by the job's status.
  async function* read(): AsyncGenerator<PrepareJobEvent, void, undefined> {
    try {
      for await (const event of client.jobEvents(jobId, { from: seen, signal })) {
        seen++;
        yield event;
      }
    } catch (error) {
      if (!signal?.aborted) streamError = error;
    }
  }
  for (let quietRounds = 0;; quietRounds++) {
    const before = seen;
    yield* read();
    if (signal?.aborted) return undefined;
    // The engine ends the stream when the job ends, or when it shuts down; this request tells
    // which, and in the second case reaches the next engine, which resumes the job.
    const status = await client.job(jobId);
    if (isJobFinished(status.status)) {
      yield* read(); // events written between the end of the stream and the status
      return signal?.aborted ? undefined : status;
    }
    if (seen > before) {
      stalledSince = undefined;
      quietRounds = 0;
      continue;
    }
    stalledSince ??= Date.now();
    if (Date.now() - stalledSince > stallTimeoutMs) {
      const why = streamError === undefined ? "" : ` (${messageOf(streamError)})`;
      throw new SqlrsError(
        "unavailable",
        `Cannot follow job ${jobId}: it is ${status.status}, but its event stream keeps ending${why}`,
      );
    }
    await delay(Math.min(50 * 2 ** quietRounds, 1000), signal);
    if (signal?.aborted) return undefined;
  }
}

/**
 * Follows a job to its end; see {@link followJobEvents}. `onEvent` sees each event as it happens.
 *
 * @returns the final status, or `undefined` when `options.signal` stopped the following first
 */
export async function followJob(
  client: EngineClient,
  jobId: string,
  options: FollowJobOptions & { onEvent?: ((event: PrepareJobEvent) => void) | undefined } = {},
): Promise<PrepareJobStatus | undefined> {
  const events = followJobEvents(client, jobId, options);
  for (let next = await events.next();; next = await events.next()) {
    if (next.done) return next.value;
    options.onEvent?.(next.value);
  }
}

/**
 * What a finished job means to a caller: its status when it succeeded, else the one error for its
 * end (`step_failed` for a failed job, `cancelled` for a cancelled one; both exit 1 in the CLI).
 *
 * @throws {SqlrsError} unless the job succeeded
 * @example
 * ```ts
 * import { requireSucceeded } from "./follow_job.ts";
 * const status = { job_id: "j1", status: "cancelled", error: null } as const;
 * try {
 *   requireSucceeded(status as never);
 *   throw new Error("unexpected");
 * } catch (error) {
 *   if ((error as { code?: string }).code !== "cancelled") throw error;
 * }
 * ```
 */
export function requireSucceeded(status: PrepareJobStatus): PrepareJobStatus {
  const jobId = status.job_id;
  const details = { job_id: jobId, ...status.error?.details };
  switch (status.status) {
    case "succeeded":
      return status;
    case "failed":
      return fail("step_failed", status.error?.message ?? `Job ${jobId} failed`);
    case "cancelled":
      return fail("cancelled", `Job ${jobId} was cancelled${reasonOf(status)}`);
    default:
      return fail("unavailable", `Lost job ${jobId}: following it ended while it was ${status.status}`);
  }
  function fail(code: "step_failed" | "cancelled" | "unavailable", message: string): never {
    throw new SqlrsError(code, message, { details });
  }
}

function reasonOf(status: PrepareJobStatus): string {
  const message = status.error?.message;
  return message === undefined || /cancel/i.test(message) ? "" : `: ${message}`;
}
