/**
 * Which states a running job still needs, so that the cache neither evicts nor lets a user delete them
 * (see `states/leases.ts`).
 *
 * @module
 */

import type { Plan } from "./planner.ts";

/**
 * The states a job needs now: the input and output of every step it has not finished yet, its final
 * state (its instance is cloned from it), and the kept state the build of its next kept state started
 * from. That last one is needed until the next kept state is published, although the steps that
 * started from it have finished (their states were not kept): a new state is measured by what it adds
 * to it (`States.publish`), and making room for the new state must not evict it first. A state a job
 * is done with can be evicted while the job goes on; a rerun rebuilds it.
 */
export function neededStates(
  plan: Plan,
  finished: ReadonlySet<string>,
  stateExists: (stateId: string) => boolean,
): Set<string> {
  const needed = new Set<string>([plan.finalStateId]);
  for (const step of plan.steps) {
    if (finished.has(step.taskId)) continue;
    needed.add(step.outputStateId);
    if (step.inputKind === "state") needed.add(step.inputId);
  }
  let started = plan.steps.findIndex((step) => !finished.has(step.taskId)) - 1;
  while (started >= 0 && !stateExists((plan.steps[started] as Plan["steps"][number]).outputStateId)) {
    started--;
  }
  if (started >= 0) needed.add((plan.steps[started] as Plan["steps"][number]).outputStateId);
  return needed;
}
