/**
 * What one planned step does to a running server. The executor knows nothing of psql or
 * Liquibase: it starts a server on the step's input, runs the action, stops the server cleanly and
 * snapshots the result.
 *
 * @module
 */

import type { PrepareKindName } from "../../shared/prepare_kinds.ts";
import type { ResolvedImage, Runtime, ServerHandle } from "../runtime/types.ts";
import type { JobReporter } from "./executor.ts";
import { SqlrsError } from "../../shared/errors.ts";

/** Everything an action may use while it runs. */
export interface StepContext {
  runtime: Runtime;
  image: ResolvedImage;
  server: ServerHandle;
  reporter: JobReporter;
  taskId: string;
  workDir: string;
  signal: AbortSignal;
}

/** Changeset identity shown on Liquibase tasks (diagnostics only: not part of any key). */
export interface ChangesetDetails {
  changeset_id: string;
  changeset_author: string;
  changeset_path: string;
}

/** A step of a series: its action and the task that reports it. */
export interface SeriesStep {
  action: StepAction;
  taskId: string;
}

/** One step's work. */
export interface StepAction {
  readonly kind: PrepareKindName;
  /** `-f schema.sql`, `-c '…'`, `changelog.xml::1::alice`. */
  readonly summary: string;
  /** What the step's key covers besides its parent: content, options, tools. */
  readonly taskHash: string;
  readonly changeset?: ChangesetDetails;
  /** Applies the step to the running server; a failure throws `step_failed` with the tool's message. */
  run(context: StepContext): Promise<void>;
  /**
   * Optional: applies consecutive steps of this kind (`steps[0].action` is this one) in one tool process
   * on the same running server, e.g. one psql with several `-f`, or one `liquibase update-count --count N`.
   * A failure throws `step_failed` whose `details.task_id` names the step that failed. Without it, the
   * executor calls each step's {@link run} in turn.
   */
  runSeries?(context: Omit<StepContext, "taskId">, steps: readonly SeriesStep[]): Promise<void>;
  /** Throws `conflict` when an input changed while the step ran (the key would no longer match). */
  verifyUnchanged(): Promise<void>;
}

/** The error of a step whose tool exited non-zero, with the last meaningful lines of its output. */
export function stepFailed(taskId: string, tool: string, code: number, tail: readonly string[]): SqlrsError {
  const detail = tail.filter((line) => line.trim() !== "").slice(-5).join("\n");
  return new SqlrsError(
    "step_failed",
    `Step ${taskId} failed: ${tool} exited with code ${code}${detail ? `\n${detail}` : ""}`,
    {
      details: { task_id: taskId, exit_code: code },
    },
  );
}
