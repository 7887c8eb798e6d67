/**
 * Following a prepare job's event stream to its end, resuming with `Range` from the last event seen
 * when the connection drops (the job keeps running in the engine meanwhile).
 *
 * @module
 */

import type { PrepareJobEvent } from "../shared/schemas.ts";
import type { EngineClient } from "./engine_client.ts";

/** Options of {@link followJobEvents}. */
export interface FollowJobEventsOptions {
  /** The index of the first event wanted. @default 0 */
  from?: number | undefined;
  /** Stops following (quietly: the iteration just ends); the job itself is not cancelled. */
  signal?: AbortSignal | undefined;
  /** How many times a dropped stream is reopened before the error is thrown. @default 4 */
  retries?: number | undefined;
}

/**
 * Yields a job's events from `options.from` on until the job ends (the engine closes the stream).
 *
 * @example
 * ```ts ignore
 * for await (const event of followJobEvents(client, jobId)) console.log(event.type, event.status);
 * ```
 */
export async function* followJobEvents(
  client: EngineClient,
  jobId: string,
  options: FollowJobEventsOptions = {},
): AsyncGenerator<PrepareJobEvent, void, undefined> {
  let seen = options.from ?? 0;
  const retries = options.retries ?? 4;
  for (let attempt = 0;; attempt++) {
    if (options.signal?.aborted) return;
    try {
      for await (const event of client.jobEvents(jobId, { from: seen, signal: options.signal })) {
        seen++;
        yield event;
      }
      return;
    } catch (error) {
      if (options.signal?.aborted) return;
      if (attempt >= retries) throw error;
    }
  }
}
