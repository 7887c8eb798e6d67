/**
 * How a job ends when it did not succeed: its `deadline` (a timer that cancels it) and the error body
 * its status reports.
 *
 * @module
 */

import type { ErrorResponse } from "../../shared/schemas.ts";
import { messageOf, SqlrsError } from "../../shared/errors.ts";
import { parseDuration } from "../../shared/duration.ts";
import type { JobRow } from "../registry/registry.ts";

/** Why a job whose `deadline` passed was stopped (the abort reason, and the job's error message). */
class DeadlineExceeded {
  readonly message: string;
  constructor(deadline: string) {
    this.message = `Deadline exceeded: the job ran longer than its --deadline of ${deadline}`;
  }
}

/** The error a job that threw `error` (its run aborted by `signal` or not) reports. */
export function jobError(error: unknown, signal: AbortSignal): ErrorResponse {
  if (signal.reason instanceof DeadlineExceeded) return { code: "cancelled", message: signal.reason.message };
  if (signal.aborted) return { code: "cancelled", message: "Job cancelled" };
  if (error instanceof SqlrsError) return error.toJSON();
  return { code: "internal_error", message: messageOf(error) };
}

/**
 * Cancels the job when its `deadline` passes, counted from its submission (so a job resumed by the
 * next engine keeps its deadline); undefined when it has none.
 */
export function deadlineTimer(
  job: JobRow,
  controller: AbortController,
): ReturnType<typeof setTimeout> | undefined {
  const deadline = job.request.deadline;
  if (deadline === undefined) return undefined;
  const left = Date.parse(job.created_at) + parseDuration(deadline) - Date.now();
  // Timers overflow past 2^31 ms (24.8 days) and would fire at once; no job runs that long here.
  if (left > 2 ** 31 - 1) return undefined;
  return setTimeout(() => controller.abort(new DeadlineExceeded(deadline)), Math.max(0, left));
}
