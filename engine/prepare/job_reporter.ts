/**
 * The reporter a running job gives the executor: task statuses go to the registry and, with log
 * lines, to the job's event log. Also settles the tasks of a job that ended without succeeding.
 *
 * @module
 */

import type { Registry } from "../registry/registry.ts";
import type { JobReporter } from "./executor.ts";
import type { JobEventLog } from "./job_events.ts";

/** A reporter for job `jobId`; `onStepDone` hears of each task that succeeded or was skipped. */
export function jobReporter(
  jobId: string,
  registry: Registry,
  events: JobEventLog,
  onStepDone: (taskId: string) => void,
): JobReporter {
  return {
    jobId,
    log: (taskId, message) =>
      events.append(
        jobId,
        taskId === undefined ? { type: "log", message } : { type: "log", task_id: taskId, message },
      ),
    task: (taskId, status, message) => {
      registry.setTaskStatus(jobId, taskId, status);
      if (status === "succeeded" || status === "skipped") onStepDone(taskId);
      events.append(
        jobId,
        message === undefined
          ? { type: "task", task_id: taskId, status }
          : { type: "task", task_id: taskId, status, message },
      );
    },
  };
}

/**
 * Gives every unfinished task of a job that failed or was cancelled its final status, so that
 * `ls -t`, the job and its events agree: the task that was running failed (or was cancelled),
 * the ones after it were skipped (or cancelled).
 */
export function settleTasks(
  reporter: JobReporter,
  registry: Registry,
  status: "failed" | "cancelled",
): void {
  for (const row of registry.listTasks(reporter.jobId)) {
    if (row.status === "running") reporter.task(row.task.task_id, status);
    else if (row.status === "queued") {
      reporter.task(row.task.task_id, status === "failed" ? "skipped" : "cancelled", `the job ${status}`);
    }
  }
}
