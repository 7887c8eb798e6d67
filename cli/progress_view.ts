/**
 * What a followed prepare job looks like to a person: one line per step with its label (the file,
 * the changeset id, or the `-c` text), "n/m", and the step's own time, then a cached/ran summary.
 * Pure: it reads events and the job's plan, and returns text; `progress.ts` writes it.
 *
 * Times come from the events' timestamps, so a job watched later (or resumed by another engine)
 * shows the same durations.
 *
 * @module
 */

import { clientPaths } from "../shared/source_tree_path.ts";
import { isAbsolute, relative } from "node:path";
import type { PrepareJobEvent, PrepareJobStatus } from "../shared/schemas.ts";

/** A task of the job as `GET /v1/tasks?job=` lists it (in plan order); reading it does not collect the job. */
export interface PlannedTask {
  task_id: string;
  type: string;
  args_summary?: string | null | undefined;
  changeset_id?: string | null | undefined;
}

/** How a finished step ended, as printed. */
type Outcome = "ran" | "cached" | "failed" | "not run" | "cancelled";

interface Step {
  index: number;
  label: string;
  startedAt?: number;
  finishedAt?: number;
  outcome?: Outcome;
}

/** Options of {@link ProgressView}. */
export interface ProgressViewOptions {
  /** ANSI colours (terminals only, and not under `NO_COLOR`). */
  color: boolean;
  /** Relative file labels are relative to this directory. */
  cwd: string;
  /** A plan job: its steps are not run, and get no lines. */
  planOnly?: boolean | undefined;
}

/** The most live lines drawn at once. */
const MAX_LIVE_LINES = 6;

const COLORS = { green: 32, red: 31, cyan: 36, dim: 2, bold: 1 } as const;

function unquote(arg: string): string {
  return arg.startsWith("'") && arg.endsWith("'") && arg.length >= 2
    ? arg.slice(1, -1).replaceAll(`'\\''`, "'")
    : arg;
}

/**
 * A step's label: the changeset id, the script's path (relative to `cwd` when under it), `stdin`
 * for `-f -`, or the step's arguments (`-c '…'`).
 *
 * @example
 * ```ts
 * import { stepLabel } from "./progress_view.ts";
 * const task = { args_summary: "-f /w/db/schema.sql" } as never;
 * if (stepLabel(task, "/w") !== "db/schema.sql") throw new Error("label");
 * ```
 */
export function stepLabel(
  task: { args_summary: string; changeset_id?: string | null | undefined },
  cwd: string,
): string {
  if (task.changeset_id !== undefined && task.changeset_id !== null) return task.changeset_id;
  const file = /^-f (.+)$/s.exec(task.args_summary);
  if (file === null) return task.args_summary;
  const path = clientPaths(unquote(file[1] as string));
  if (path === "-") return "stdin";
  const under = relative(cwd, path);
  return under === "" || under.startsWith("..") || isAbsolute(under) ? path : under;
}

/**
 * A failed job's message with the engine's task id (`Step execute-1 failed: …`) told as people see
 * the step (`Step 2 of 3 (db/seed.sql) failed: …`).
 *
 * @example
 * ```ts
 * import { nameFailedStep } from "./progress_view.ts";
 * const tasks = [{ task_id: "execute-0", type: "state_execute", args_summary: "-f /w/a.sql" }];
 * const message = nameFailedStep("Step execute-0 failed: psql exited with code 3", tasks, "/w");
 * if (message !== "Step 1 of 1 (a.sql) failed: psql exited with code 3") throw new Error(message);
 * ```
 */
export function nameFailedStep(message: string, tasks: readonly PlannedTask[], cwd: string): string {
  const steps = tasks.filter((task) => task.type === "state_execute");
  return clientPaths(message).replace(/^Step (\S+) failed/, (whole, taskId: string) => {
    const index = steps.findIndex((task) => task.task_id === taskId);
    const task = steps[index];
    if (task === undefined) return whole;
    const label = stepLabel({ args_summary: task.args_summary ?? "", changeset_id: task.changeset_id }, cwd);
    return `Step ${index + 1} of ${steps.length} (${label}) failed`;
  });
}

/** `0.4s`, `12.3s`, `2m05s`. */
export function formatSeconds(ms: number): string {
  const seconds = Math.max(0, ms) / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, "0")}s`;
}

/** Cuts `text` to `width` characters, ending with `…` when cut. */
export function fitWidth(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : `${chars.slice(0, Math.max(0, width - 1)).join("")}…`;
}

/** The progress of one job: fed with its plan and events, asked for lines. */
export class ProgressView {
  readonly #options: ProgressViewOptions;
  readonly #steps = new Map<string, Step>();
  #planned = false;
  /** What the job does outside its steps (queued, planning, starting the instance), and since when. */
  #phase: { label: string; since: number } | undefined;

  constructor(options: ProgressViewOptions) {
    this.#options = options;
  }

  /** Learns the steps from the job's tasks (once planned: see {@link ProgressView.needsPlan}). */
  setPlan(tasks: readonly PlannedTask[]): void {
    tasks.filter((task) => task.type === "state_execute").forEach((task, index) => {
      if (!this.#steps.has(task.task_id)) {
        const label = stepLabel(
          { args_summary: task.args_summary ?? "", changeset_id: task.changeset_id },
          this.#options.cwd,
        );
        this.#steps.set(task.task_id, { index, label });
      }
    });
    this.#planned = true;
  }

  /** Whether the job's tasks should be read now: it has just been planned, and the view has no plan yet. */
  needsPlan(event: PrepareJobEvent): boolean {
    return !this.#planned && event.type === "task" && event.task_id === "plan" &&
      event.status === "succeeded";
  }

  /** Takes one event; returns the lines it finishes (one per finished step). */
  onEvent(event: PrepareJobEvent): string[] {
    const at = Date.parse(event.ts);
    this.#trackPhase(event, at);
    if (event.type !== "task" || event.task_id === undefined || this.#options.planOnly === true) return [];
    const step = this.#steps.get(event.task_id);
    if (step === undefined) return [];
    const outcome = outcomeOf(event);
    if (outcome === undefined) {
      if (event.status === "running") step.startedAt ??= at;
      return [];
    }
    if (step.outcome !== undefined) return [];
    step.outcome = outcome;
    step.finishedAt = at;
    return [this.#finishedLine(step)];
  }

  /** The live lines: one per running step with its time so far, else what the job does meanwhile. */
  runningLines(now: number): string[] {
    const running = [...this.#steps.values()]
      .filter((step) => step.startedAt !== undefined && step.outcome === undefined);
    if (running.length === 0) {
      return this.#phase === undefined ? [] : [this.#liveLine(this.#phase.label, now - this.#phase.since)];
    }
    // A series run in one process (40 changesets, say) reports all its steps running at once: the
    // live region stays a few lines high, so that it can be redrawn in place.
    const shown = running.length <= MAX_LIVE_LINES ? running : running.slice(0, MAX_LIVE_LINES - 1);
    const lines = shown.map((step) => this.#liveLine(this.#head(step), now - (step.startedAt as number)));
    if (shown.length < running.length) {
      lines.push(this.#paint("dim", `   … and ${running.length - shown.length} more steps in the same run`));
    }
    return lines;
  }

  #liveLine(what: string, ms: number): string {
    return `${this.#paint("cyan", "=>")} ${what}  ${this.#paint("dim", formatSeconds(ms))}`;
  }

  #trackPhase(event: PrepareJobEvent, at: number): void {
    const phase = (label: string) => this.#phase = { label, since: at };
    if (event.type === "status") {
      if (event.status === "queued") phase("queued");
      else if (event.status === "running") phase("planning");
      else this.#phase = undefined;
    } else if (event.type === "task" && event.task_id === "prepare-instance") {
      if (event.status === "running") phase("starting the instance");
      else this.#phase = undefined;
    } else if (event.type === "task" && event.task_id === "plan" && event.status === "succeeded") {
      phase("resolving the image");
    } else if (event.type === "task" && event.task_id === "resolve-image") {
      this.#phase = undefined;
    }
  }

  /**
   * The lines following a job that ended as a cache hit prints (every step cached, then the summary),
   * from its final status alone: such a job's events say nothing more.
   */
  cacheHit(status: PrepareJobStatus): string[] {
    this.setPlan(status.tasks);
    const lines = [...this.#steps.values()].map((step) => {
      step.outcome = "cached";
      return this.#finishedLine(step);
    });
    const summary = this.summary(status);
    return summary === undefined ? lines : [...lines, summary];
  }

  /** `3 steps: 1 cached, 2 ran in 4.2s; ready in 5.0s` for a succeeded job, else nothing. */
  summary(status: PrepareJobStatus): string | undefined {
    if (status.status !== "succeeded" || status.plan_only) return undefined;
    const steps = [...this.#steps.values()];
    const ran = steps.filter((step) => step.outcome === "ran");
    const cached = steps.length - ran.length;
    const ranMs = ran.reduce((sum, step) => sum + ((step.finishedAt ?? 0) - (step.startedAt ?? 0)), 0);
    const total = status.started_at !== null && status.finished_at !== null
      ? `; ready in ${formatSeconds(Date.parse(status.finished_at) - Date.parse(status.started_at))}`
      : "";
    const ranText = ran.length === 0 ? "0 ran" : `${ran.length} ran in ${formatSeconds(ranMs)}`;
    const count = `${steps.length} step${steps.length === 1 ? "" : "s"}`;
    return this.#paint("bold", `${count}: ${cached} cached, ${ranText}${total}`);
  }

  #head(step: Step): string {
    return `[${step.index + 1}/${this.#steps.size}] ${step.label}`;
  }

  #finishedLine(step: Step): string {
    const took = step.startedAt !== undefined && step.finishedAt !== undefined
      ? ` ${formatSeconds(step.finishedAt - step.startedAt)}`
      : "";
    switch (step.outcome) {
      case "ran":
        return `${this.#paint("green", "ran")}       ${this.#head(step)}${this.#paint("dim", took)}`;
      case "cached":
        return `${this.#paint("cyan", "cached")}    ${this.#head(step)}`;
      case "failed":
        return `${this.#paint("red", "failed")}    ${this.#head(step)}${took}`;
      case "cancelled":
        return `${this.#paint("red", "cancelled")} ${this.#head(step)}`;
      default:
        return `${this.#paint("dim", "not run")}   ${this.#head(step)}`;
    }
  }

  #paint(color: keyof typeof COLORS, text: string): string {
    return this.#options.color && text !== "" ? `\x1b[${COLORS[color]}m${text}\x1b[0m` : text;
  }
}

/** A step's end as the engine reports it: succeeded (kept or not), skipped (cached or not run), … */
function outcomeOf(event: PrepareJobEvent): Outcome | undefined {
  switch (event.status) {
    case "succeeded":
      return "ran";
    case "failed":
      return "failed";
    case "cancelled":
      return "cancelled";
    case "skipped":
      // A plan job's steps end "plan only" (or cached): a watch of one shows no line for them.
      if (event.message === "plan only") return undefined;
      return /^(cached|not kept)/.test(event.message ?? "") ? "cached" : "not run";
    default:
      return undefined;
  }
}
