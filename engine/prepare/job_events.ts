/**
 * The durable event log of prepare jobs: events are rows in SQLite with consecutive sequence numbers;
 * a reader follows them from the database and waits for a notification when it reaches the end, so a
 * reader that reconnects with `Range: events=N-` sees exactly what it missed.
 *
 * @module
 */

import type { Registry } from "../registry/registry.ts";
import { isJobFinished, type PrepareJobEvent } from "../../shared/schemas.ts";

/** Appends jobs' events and follows them. */
export class JobEventLog {
  readonly #registry: Registry;
  readonly #waiters = new Map<string, Set<() => void>>();

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  /** Records an event of `jobId`, stamped now, and wakes its readers. */
  append(jobId: string, event: Omit<PrepareJobEvent, "ts">): void {
    this.#registry.appendEvent(jobId, { ts: new Date().toISOString(), ...event });
    for (const wake of [...(this.#waiters.get(jobId) ?? [])]) wake();
  }

  /** The number of events `jobId` has. */
  count(jobId: string): number {
    return this.#registry.eventCount(jobId);
  }

  /**
   * The events of `jobId` from `from` (inclusive) to `to` (exclusive), following the live log until
   * the job ends (or `signal` aborts).
   */
  async *follow(
    jobId: string,
    from: number,
    to: number | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<PrepareJobEvent> {
    let next = from;
    while (!signal.aborted) {
      const changed = this.#changed(jobId, signal);
      for (const event of this.#registry.events(jobId, next, to)) {
        next++;
        yield event;
      }
      if (to !== undefined && next >= to) return;
      const job = this.#registry.getJob(jobId);
      if (job === undefined || (isJobFinished(job.status) && next >= this.#registry.eventCount(jobId))) {
        return;
      }
      if (to !== undefined && isJobFinished(job.status)) return;
      await changed;
    }
  }

  /** Resolves at the next event of `jobId`, or when `signal` aborts. */
  #changed(jobId: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.#waiters.get(jobId) ?? new Set();
      this.#waiters.set(jobId, waiters);
      const wake = () => {
        waiters.delete(wake);
        signal.removeEventListener("abort", wake);
        resolve();
      };
      waiters.add(wake);
      signal.addEventListener("abort", wake, { once: true });
    });
  }
}
