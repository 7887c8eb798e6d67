import assert from "node:assert/strict";
import type { PrepareJobEvent, PrepareJobStatus, PreparePlanTask } from "../shared/schemas.ts";
import { fitWidth, formatSeconds, ProgressView, stepLabel } from "./progress_view.ts";

type StepTask = Extract<PreparePlanTask, { type: "state_execute" }>;

function step(taskId: string, args: string, extra: Partial<StepTask> = {}): StepTask {
  return {
    task_id: taskId,
    type: "state_execute",
    input: { kind: "image", id: "i" },
    task_hash: "h",
    output_state_id: "0".repeat(64),
    cached: false,
    args_summary: args,
    ...extra,
  };
}

function status(tasks: PreparePlanTask[], extra: Partial<PrepareJobStatus> = {}): PrepareJobStatus {
  return {
    job_id: "j",
    status: "running",
    prepare_kind: "psql",
    image_id: "host",
    plan_only: false,
    prepare_args_normalized: "",
    created_at: "2026-01-01T00:00:00.000Z",
    started_at: "2026-01-01T00:00:00.000Z",
    finished_at: null,
    tasks,
    result: null,
    error: null,
    ...extra,
  };
}

function task(taskId: string, state: string, second: number, message?: string): PrepareJobEvent {
  return {
    type: "task",
    task_id: taskId,
    status: state,
    ts: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
    ...(message === undefined ? {} : { message }),
  };
}

Deno.test("stepLabel() shows the file under the working directory, the changeset id, stdin or the -c text", () => {
  assert.equal(stepLabel(step("e", "-f /w/db/a.sql"), "/w"), "db/a.sql");
  assert.equal(stepLabel(step("e", "-f /elsewhere/a.sql"), "/w"), "/elsewhere/a.sql");
  // An uploaded copy is labelled with the client's path.
  assert.equal(stepLabel(step("e", `-f /s/sources/trees/${"0".repeat(64)}/w/db/a.sql`), "/w"), "db/a.sql");
  assert.equal(stepLabel(step("e", "-f '/w/my file.sql'"), "/w"), "my file.sql");
  assert.equal(stepLabel(step("e", "-f -"), "/w"), "stdin");
  assert.equal(stepLabel(step("e", "-c 'select 1'"), "/w"), "-c 'select 1'");
  assert.equal(stepLabel(step("e", "update …", { changeset_id: "create-users" }), "/w"), "create-users");
});

Deno.test("formatSeconds() and fitWidth() keep lines short", () => {
  assert.equal(formatSeconds(1234), "1.2s");
  assert.equal(formatSeconds(125_000), "2m05s");
  assert.equal(fitWidth("abcdef", 4), "abc…");
  assert.equal(fitWidth("abc", 4), "abc");
});

Deno.test("ProgressView prints one line per finished step with n/m and its own time, then a summary", () => {
  const view = new ProgressView({ color: false, cwd: "/w" });
  const plan = [
    step("execute-0", "-f /w/a.sql"),
    step("execute-1", "-f /w/b.sql"),
    step("execute-2", "-c 'x'"),
  ];
  assert.equal(view.needsPlan(task("plan", "running", 0)), false);
  assert.equal(view.needsPlan(task("plan", "succeeded", 0)), true);
  view.setPlan(plan);
  assert.equal(view.needsPlan(task("plan", "succeeded", 0)), false);
  assert.deepEqual(view.onEvent(task("execute-0", "skipped", 1, "cached")), ["cached    [1/3] a.sql"]);
  assert.deepEqual(view.onEvent(task("execute-1", "running", 1)), []);
  assert.deepEqual(view.runningLines(Date.UTC(2026, 0, 1, 0, 0, 4)), ["=> [2/3] b.sql  3.0s"]);
  assert.deepEqual(view.onEvent(task("execute-1", "succeeded", 6, "not kept")), [
    "ran       [2/3] b.sql 5.0s",
  ]);
  view.onEvent(task("execute-2", "running", 6));
  assert.deepEqual(view.onEvent(task("execute-2", "succeeded", 7)), ["ran       [3/3] -c 'x' 1.0s"]);
  assert.deepEqual(view.runningLines(Date.UTC(2026, 0, 1, 0, 0, 8)), []);
  const done = status(plan, { status: "succeeded", finished_at: "2026-01-01T00:00:09.000Z" });
  assert.equal(view.summary(done), "3 steps: 1 cached, 2 ran in 6.0s; ready in 9.0s");
});

Deno.test("ProgressView marks a failed step and the steps it stopped; colour only when asked", () => {
  const view = new ProgressView({ color: true, cwd: "/w" });
  view.setPlan([step("execute-0", "-f /w/a.sql"), step("execute-1", "-f /w/b.sql")]);
  view.onEvent(task("execute-0", "running", 0));
  const [failed] = view.onEvent(task("execute-0", "failed", 2));
  assert.equal(failed, "\x1b[31mfailed\x1b[0m    [1/2] a.sql 2.0s");
  assert.deepEqual(view.onEvent(task("execute-1", "skipped", 2, "not run: an earlier step failed")), [
    "\x1b[2mnot run\x1b[0m   [2/2] b.sql",
  ]);
  assert.equal(view.summary(status([], { status: "failed" })), undefined);
});

Deno.test("ProgressView shows what a job does between steps, and nothing per step for a plan", () => {
  const plan = new ProgressView({ color: false, cwd: "/w", planOnly: true });
  plan.setPlan([step("execute-0", "-f /w/a.sql")]);
  assert.deepEqual(plan.onEvent(task("execute-0", "skipped", 1, "cached")), []);
  const view = new ProgressView({ color: false, cwd: "/w" });
  view.onEvent({ type: "status", status: "queued", ts: "2026-01-01T00:00:00.000Z" });
  assert.deepEqual(view.runningLines(Date.UTC(2026, 0, 1, 0, 0, 2)), ["=> queued  2.0s"]);
  view.setPlan([step("execute-0", "-f /w/a.sql")]);
  // A plan job's steps end "plan only": no line, even when the view was not told it follows a plan.
  assert.deepEqual(view.onEvent(task("execute-0", "skipped", 1, "plan only")), []);
  view.onEvent(task("prepare-instance", "running", 3));
  assert.deepEqual(view.runningLines(Date.UTC(2026, 0, 1, 0, 0, 4)), ["=> starting the instance  1.0s"]);
});

Deno.test("ProgressView keeps the live lines few when a series runs many steps at once", () => {
  const view = new ProgressView({ color: false, cwd: "/w" });
  view.setPlan(Array.from({ length: 40 }, (_, i) => step(`execute-${i}`, `-f /w/${i}.sql`)));
  for (let i = 0; i < 40; i++) view.onEvent(task(`execute-${i}`, "running", 0));
  const lines = view.runningLines(Date.UTC(2026, 0, 1, 0, 0, 1));
  assert.equal(lines.length, 6);
  assert.equal(lines[0], "=> [1/40] 0.sql  1.0s");
  assert.equal(lines[5], "   … and 35 more steps in the same run");
});

Deno.test("cacheHit() prints from a cache hit's status what following its events prints", () => {
  const tasks = [step("execute-0", "-f /w/a.sql"), step("execute-1", "-f /w/b.sql")];
  const done = status(tasks, { status: "succeeded", finished_at: "2026-01-01T00:00:00.300Z" });
  const followed = new ProgressView({ color: false, cwd: "/w" });
  followed.setPlan(tasks);
  const lines = [
    ...followed.onEvent(task("execute-0", "skipped", 0, "not kept: part of the cached state of execute-1")),
    ...followed.onEvent(task("execute-1", "skipped", 0, "cached")),
    followed.summary(done),
  ];
  assert.deepEqual(new ProgressView({ color: false, cwd: "/w" }).cacheHit(done), lines);
  assert.equal(lines.at(-1), "2 steps: 2 cached, 0 ran; ready in 0.3s");
});
