/**
 * Why a running job was stopped, as the reason of its `AbortSignal`: a user's cancel, or the engine
 * shutting down (then the job is requeued, and the next engine resumes it).
 *
 * @module
 */

import { SqlrsError } from "../../shared/errors.ts";

/** What stopped a job. */
export type JobStopCause = "cancel" | "shutdown";

/** The abort reason of a stopped job: a `cancelled` error that says what stopped it. */
export class JobStopped extends SqlrsError {
  readonly by: JobStopCause;
  constructor(cause: JobStopCause) {
    super("cancelled", cause === "cancel" ? "Job cancelled" : "Job interrupted: the engine is stopping", {
      details: { stopped_by: cause },
    });
    this.by = cause;
  }
}

/** Whether `signal` was aborted because the engine is shutting down. */
export function stoppedByShutdown(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof JobStopped && signal.reason.by === "shutdown";
}
