/**
 * sqlrs as a user drives it: a prepare through the typed API client (submit, follow the NDJSON
 * events until the result names a ready DSN) or through the CLI process, and where the engine says
 * its time went (job events, and the per-instance line of the engine log).
 *
 * @module
 */

import type { EngineClient } from "../client/engine_client.ts";
import type { PrepareJobEvent, PrepareJobRequest } from "../shared/schemas.ts";
import type { Installation } from "./_fixtures.ts";

/** A finished prepare and where its time went. */
export interface PrepareRun {
  /** Submit to the result event (a ready DSN), client side. */
  totalMs: number;
  /** The POST round trip (planning included). */
  submitMs: number;
  jobId: string;
  instanceId: string;
  stateId: string;
  dsn: string;
  /** Engine-side phases from event timestamps (ms resolution). */
  phases: { initdb: number; steps: number; instance: number };
  /** How many steps ran (the others were cache hits). */
  executedSteps: number;
}

/** A psql prepare request as the CLI builds it for `prepare:psql -- <psqlArgs>` run in `workDir`. */
export function psqlRequest(psqlArgs: readonly string[], workDir: string): PrepareJobRequest {
  return { prepare_kind: "psql", psql_args: [...psqlArgs], work_dir: workDir };
}

function tsOf(event: PrepareJobEvent): number {
  return Date.parse(event.ts);
}

/** Engine-side phases: initdb (log line to first step), steps (first running to last done), the instance task. */
function phasesOf(events: readonly PrepareJobEvent[]): PrepareRun["phases"] {
  const taskTimes = new Map<string, { start?: number; end?: number }>();
  let initdbStart: number | undefined;
  for (const event of events) {
    if (event.type === "log" && /^initdb:/.test(event.message ?? "")) initdbStart ??= tsOf(event);
    if (event.type !== "task" || event.task_id === undefined) continue;
    const entry = taskTimes.get(event.task_id) ?? {};
    if (event.status === "running") entry.start = tsOf(event);
    else entry.end = tsOf(event);
    taskTimes.set(event.task_id, entry);
  }
  // From the first step's start to the last step's end: steps of a series run together.
  let firstStep: number | undefined;
  let lastStep: number | undefined;
  for (const [task, t] of taskTimes) {
    if (!task.startsWith("execute") || t.start === undefined || t.end === undefined) continue;
    firstStep = Math.min(firstStep ?? t.start, t.start);
    lastStep = Math.max(lastStep ?? t.end, t.end);
  }
  const steps = firstStep !== undefined && lastStep !== undefined ? lastStep - firstStep : 0;
  const instance = taskTimes.get("prepare-instance");
  return {
    initdb: initdbStart !== undefined && firstStep !== undefined ? firstStep - initdbStart : 0,
    steps,
    instance: instance?.start !== undefined && instance.end !== undefined ? instance.end - instance.start : 0,
  };
}

/** Submits a prepare and follows it until its result (a ready DSN). */
export async function apiPrepare(client: EngineClient, request: PrepareJobRequest): Promise<PrepareRun> {
  const started = performance.now();
  const accepted = await client.submitPrepare(request);
  const submitMs = performance.now() - started;
  const events: PrepareJobEvent[] = [];
  let totalMs: number | undefined;
  let result: PrepareJobEvent["result"];
  for await (const event of client.jobEvents(accepted.job_id)) {
    events.push(event);
    if (event.type === "result" && totalMs === undefined) {
      totalMs = performance.now() - started;
      result = event.result;
    }
    if (event.type === "error") {
      throw new Error(`Prepare job ${accepted.job_id} failed: ${event.error?.code}: ${event.error?.message}`);
    }
  }
  if (totalMs === undefined || result === undefined) {
    const status = await client.job(accepted.job_id);
    throw new Error(`Prepare job ${accepted.job_id} ended ${status.status} without a result`);
  }
  return {
    totalMs,
    submitMs,
    jobId: accepted.job_id,
    instanceId: result.instance_id,
    stateId: result.state_id,
    dsn: result.dsn,
    phases: phasesOf(events),
    executedSteps:
      events.filter((e) =>
        e.type === "task" && e.status === "running" && (e.task_id ?? "").startsWith("execute")
      ).length,
  };
}

/** `sqlrs --output json prepare:psql <flags> -- <psqlArgs>`, timed as a whole (process start included). */
export async function cliPrepare(
  installation: Installation,
  psqlArgs: readonly string[],
  flags: readonly string[] = [],
): Promise<{ ms: number; instanceId: string; stateId: string }> {
  const result = await installation.cli(["--output", "json", "prepare:psql", ...flags, "--", ...psqlArgs]);
  if (result.code !== 0) {
    throw new Error(
      `sqlrs prepare:psql exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
  const printed = JSON.parse(result.stdout) as { instance_id: string; state_id: string };
  return { ms: result.ms, instanceId: printed.instance_id, stateId: printed.state_id };
}

/** `sqlrs rm <instance>`, timed as a whole. */
export async function cliDelete(installation: Installation, instanceId: string): Promise<number> {
  const result = await installation.cli(["rm", instanceId]);
  if (result.code !== 0) throw new Error(`sqlrs rm exited ${result.code}: ${result.stderr.trim()}`);
  return result.ms;
}

/**
 * What the engine logged about creating `instanceId`: its clone and start-to-ready times
 * (`instance <id> (job <id>): clone X ms, start to ready Y ms, ...`), or undefined when it did not say.
 */
export function instanceTimings(
  lines: readonly string[],
  instanceId: string,
): { clone: number; start: number } | undefined {
  const pattern = new RegExp(
    `instance ${instanceId}(?: \\(job [^)]*\\))?: clone ([\\d.]+) ms, start to ready ([\\d.]+) ms`,
  );
  for (const line of lines) {
    const match = pattern.exec(line);
    if (match !== null) return { clone: Number(match[1]), start: Number(match[2]) };
  }
  return undefined;
}
