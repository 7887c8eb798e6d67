/**
 * The steps of a build whose states were not kept, recorded with the kept state that includes their
 * result (`StateInputs.unkept`), so that `cache explain` can tell a step that runs again unchanged
 * from one that changed, and compare a changed step with what was built on its parent.
 *
 * @module
 */

import type { StateInputs, StateRow } from "../registry/registry.ts";
import type { PlannedStep } from "../prepare/planner.ts";

/** A step built before that a changed step can be compared with: a kept state, or a step not kept. */
export interface Candidate {
  stateId: string;
  inputs: StateInputs;
}

/**
 * The steps each kept state records as built on the way to it but not kept, by state id, as inputs
 * (their files default to the kept state's). Evicted states take their records with them.
 */
export function unkeptSteps(states: readonly StateRow[]): Map<string, Candidate & { keptIn: string }> {
  const found = new Map<string, Candidate & { keptIn: string }>();
  for (const state of states) {
    for (const { state_id, files, ...rest } of state.inputs?.unkept ?? []) {
      const inputs = { ...rest, files: files ?? state.inputs?.files ?? {} };
      found.set(state_id, { stateId: state_id, inputs, keptIn: state.state_id });
    }
  }
  return found;
}

/**
 * What a state publishes as its inputs: its step's, and the steps since its kept parent that were not
 * kept (see {@link StateInputs.unkept}).
 */
export function keptStateInputs(step: PlannedStep, notKept: readonly PlannedStep[]): StateInputs {
  if (notKept.length === 0) return step.inputs;
  const same = (files: Record<string, string>) =>
    JSON.stringify(Object.entries(files)) === JSON.stringify(Object.entries(step.inputs.files));
  return {
    ...step.inputs,
    unkept: notKept.map(({ outputStateId, inputs: { files, unkept: _, ...rest } }) => ({
      state_id: outputStateId,
      ...rest,
      ...(same(files) ? {} : { files }),
    })),
  };
}
