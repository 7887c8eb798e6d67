import assert from "node:assert/strict";
import { INITIAL_KEEP_MS, KEEP_FACTOR, KeepPolicy } from "./keep_policy.ts";

Deno.test("KeepPolicy keeps the last two states whatever they cost", () => {
  const policy = new KeepPolicy(5);
  assert.equal(policy.mustKeep(2), false);
  assert.equal(policy.mustKeep(3), true);
  assert.equal(policy.mustKeep(4), true);
  assert.equal(policy.nextRun(3), 1, "the one before the last runs alone, to be kept");
  assert.equal(policy.ran(3, 1, 0.1), true);
  assert.equal(policy.ran(4, 1, 0.1), true);
});

Deno.test("KeepPolicy.nextRun() measures one step, then fills the work budget of one keep", () => {
  const policy = new KeepPolicy(1000);
  assert.equal(policy.nextRun(0), 1);
  assert.equal(policy.ran(0, 1, 10), false);
  // 10 ms a step: the rest of KEEP_FACTOR keeps' worth of work.
  assert.equal(policy.nextRun(1), Math.ceil((KEEP_FACTOR * INITIAL_KEEP_MS - 10) / 10));
});

Deno.test("KeepPolicy.nextRun() ends a run at the one before the last at the latest; the last runs alone", () => {
  const policy = new KeepPolicy(10);
  policy.ran(0, 1, 0.01);
  assert.equal(policy.nextRun(1), 8, "steps 1-8, and 8 is kept");
  assert.equal(policy.ran(8, 8, 0.08), true);
  assert.equal(policy.nextRun(9), 1);
});

Deno.test("KeepPolicy with the tool's start measured first: one run up to the one before the last, then the last", () => {
  // Liquibase: planning ran a 2 s JVM that applied nothing; each changeset is 50 ms of work.
  const policy = new KeepPolicy(40, 2000);
  assert.equal(policy.nextRun(0), 39);
  assert.equal(policy.ran(38, 39, 2000 + 39 * 50), true);
  policy.kept(300);
  assert.equal(policy.nextRun(39), 1);
  assert.equal(policy.ran(39, 1, 2050), true);
});

Deno.test("KeepPolicy: a keep costs the tool's restart too, so cheap steps behind a slow start are not kept", () => {
  // A 3 s start and 100 ms a step, told apart after runs of one and two steps; a keep costs 300 ms.
  const policy = new KeepPolicy(1000);
  assert.equal(policy.nextRun(0), 1);
  assert.equal(policy.ran(0, 1, 3100), true, "the start is unknown yet: all of it counts as work");
  policy.kept(300);
  assert.equal(policy.nextRun(1), 2);
  assert.equal(policy.ran(2, 2, 3200), false);
  // KEEP_FACTOR x (300 ms + 3 s) of work per keep, 200 ms of it done.
  const steps = policy.nextRun(3);
  assert.equal(steps, Math.ceil((KEEP_FACTOR * 3300 - 200) / 100));
  assert.equal(policy.ran(3 + steps - 1, steps, 3000 + 100 * steps), true);
});

Deno.test("KeepPolicy.ran() keeps an intermediate state once the work since the last kept one pays for it", () => {
  const policy = new KeepPolicy(100);
  assert.equal(policy.ran(0, 1, KEEP_FACTOR * INITIAL_KEEP_MS - 1), false);
  assert.equal(policy.ran(1, 1, 1), true);
  // A measured keep cost replaces the initial guess, and the work since the last kept state restarts.
  policy.kept(100);
  assert.equal(policy.ran(2, 1, KEEP_FACTOR * 100 - 1), false);
  assert.equal(policy.ran(3, 1, 1), true);
});

Deno.test("KeepPolicy tells a slow tool start from the work: a JVM per changeset is not worth a keep each", () => {
  // Each run costs a 4.8 s start plus 0.2 s a step (one Liquibase JVM per run).
  const cost = (steps: number) => 4800 + 200 * steps;
  const policy = new KeepPolicy(40);
  let index = 0;
  let runs = 0;
  let kept = 0;
  while (index < 40) {
    const steps = policy.nextRun(index);
    runs++;
    if (policy.ran(index + steps - 1, steps, cost(steps))) {
      kept++;
      policy.kept(500);
    }
    index += steps;
  }
  assert.ok(runs <= 8, `${runs} tool runs for 40 steps`);
  assert.ok(kept <= 6, `${kept} states kept`);
});
