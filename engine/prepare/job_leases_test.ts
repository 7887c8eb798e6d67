import assert from "node:assert/strict";
import type { Plan, PlannedStep } from "./planner.ts";
import { neededStates } from "./job_leases.ts";

/** A plan of `n` steps from the base: step i makes state `s<i>`. */
function chain(n: number): Plan {
  const steps = Array.from({ length: n }, (_, i) =>
    ({
      taskId: `execute-${i}`,
      inputId: i === 0 ? "base:x" : `s${i - 1}`,
      inputKind: i === 0 ? "image" : "state",
      outputStateId: `s${i}`,
    }) as PlannedStep);
  return { steps, finalStateId: `s${n - 1}` } as Plan;
}

Deno.test("neededStates() keeps the kept state a build started from until the next kept state exists", () => {
  const plan = chain(5);
  const kept = new Set(["s1"]);
  const exists = (id: string) => kept.has(id);
  // Steps 0-1 done (s1 kept), 2-3 ran without keeping: s1 is still what the next state is measured on.
  const finished = new Set(["execute-0", "execute-1", "execute-2", "execute-3"]);
  assert.deepEqual([...neededStates(plan, finished, exists)].sort(), ["s1", "s3", "s4"]);
  // Once s4 is kept and the job is done, only the final state is needed.
  kept.add("s4");
  assert.deepEqual([...neededStates(plan, new Set([...finished, "execute-4"]), exists)], ["s4"]);
  // From the base: nothing kept before the running steps.
  assert.deepEqual([...neededStates(plan, new Set(["execute-0"]), () => false)].sort(), [
    "s0",
    "s1",
    "s2",
    "s3",
    "s4",
  ]);
});
