/**
 * `cache explain`: which steps of a prepare would be cache hits, and for a miss, why — which input
 * differs from the nearest cached state built on the same parent. Creates no job and no instance.
 *
 * @module
 */

import { relative } from "node:path";
import type { Registry, StateInputs, StateRow } from "../registry/registry.ts";
import type { Plan, PlannedStep } from "../prepare/planner.ts";
import type { CacheExplain, CacheExplainStep } from "../../shared/schemas.ts";
import { type Candidate, unkeptSteps } from "./unkept_steps.ts";

/** The differences between two steps' inputs, most telling first. */
function differences(
  wanted: StateInputs,
  cached: StateInputs,
  workDir: string,
): { changes: string[]; files: string[] } {
  const changes: string[] = [];
  const files: string[] = [];
  const show = (path: string) => (path.startsWith(workDir) ? relative(workDir, path) : path);
  for (const [path, hash] of Object.entries(wanted.files)) {
    const before = cached.files[path];
    if (before === undefined) {
      changes.push(`${show(path)} is new`);
      files.push(path);
    } else if (before !== hash) {
      changes.push(`${show(path)} changed`);
      files.push(path);
    }
  }
  for (const path of Object.keys(cached.files)) {
    if (!(path in wanted.files)) changes.push(`${show(path)} is no longer read`);
  }
  if (wanted.input !== cached.input && files.length === 0) {
    changes.push(`the step is ${wanted.input}, was ${cached.input}`);
  }
  if (wanted.options.join("\n") !== cached.options.join("\n")) {
    changes.push(
      `options changed: ${cached.options.join(" ") || "(none)"} -> ${wanted.options.join(" ") || "(none)"}`,
    );
  }
  if (wanted.tool !== cached.tool) {
    changes.push(`the tools changed: ${cached.tool} -> ${wanted.tool}`);
  }
  if (changes.length === 0) {
    changes.push("inputs differ in content not attributable to a file (e.g. -c text or stdin)");
  }
  return { changes, files };
}

function nearest(
  step: PlannedStep,
  candidates: readonly Candidate[],
  workDir: string,
): Candidate | undefined {
  const score = (candidate: Candidate) => {
    const { changes } = differences(step.inputs, candidate.inputs, workDir);
    return (candidate.inputs.input === step.inputs.input ? 100 : 0) - changes.length;
  };
  return [...candidates].sort((a, b) => score(b) - score(a))[0];
}

/**
 * Explains the cache decision for every step of a plan. Steps up to the last cached one do not run
 * (those whose state was not kept are part of it). Then steps built before whose state was not kept
 * run again unchanged; the first step not built before is the miss to explain, compared with the
 * nearest step built on its parent (a kept state or a step not kept); every later step runs because
 * it does.
 */
export function explainPlan(plan: Plan, registry: Registry): CacheExplain {
  const steps: CacheExplainStep[] = [];
  const states = registry.listStates().filter((state) => state.store_dir === plan.image.storeDir);
  const unkept = unkeptSteps(states);
  let firstMiss: string | undefined;
  let resumeFrom: string | null = null;
  for (const step of plan.steps) {
    const base = { task_id: step.taskId, input: step.inputs.input, output_state_id: step.outputStateId };
    if (step.cached) {
      const kept = step.includedIn === undefined;
      resumeFrom = step.includedIn ?? step.outputStateId;
      steps.push({
        ...base,
        decision: "hit",
        reason_code: kept ? "exact_state_match" : "not_kept",
        reason: kept ? "cached" : `not kept: part of the cached state ${step.includedIn?.slice(0, 12)}`,
        nearest_state_id: kept ? step.outputStateId : step.includedIn ?? null,
        changed_files: [],
      });
      continue;
    }
    const built = firstMiss === undefined ? unkept.get(step.outputStateId) : undefined;
    if (built !== undefined) {
      steps.push({
        ...base,
        decision: "miss",
        reason_code: "unchanged_not_kept",
        reason: `unchanged, but its state was not kept (states are kept by cost; it was part of state ${
          built.keptIn.slice(0, 12)
        }): runs again from ${resumeFrom === null ? "the base" : `state ${resumeFrom.slice(0, 12)}`}`,
        nearest_state_id: null,
        changed_files: [],
      });
      continue;
    }
    if (firstMiss !== undefined) {
      steps.push({
        ...base,
        decision: "miss",
        reason_code: "parent_changed",
        reason: `an earlier step (${firstMiss}) runs, so this one does too`,
        nearest_state_id: null,
        changed_files: [],
      });
      continue;
    }
    firstMiss = step.taskId;
    steps.push(explainMiss(step, plan, states, unkept));
  }
  return {
    decision: steps.every((step) => step.decision === "hit") ? "hit" : "miss",
    image_id: plan.image.imageId,
    resolved_image_id: plan.image.resolvedId,
    final_state_id: plan.finalStateId,
    steps,
  };
}

/** The first changed step, compared with the nearest step built on the same chain parent. */
function explainMiss(
  step: PlannedStep,
  plan: Plan,
  states: readonly StateRow[],
  unkept: ReadonlyMap<string, Candidate>,
): CacheExplainStep {
  const base = { task_id: step.taskId, input: step.inputs.input, output_state_id: step.outputStateId };
  const parent = step.inputKind === "state" ? step.inputId : null;
  // Kept states built on its parent (recorded since states are kept by cost; older rows only name
  // their kept parent), and steps not kept whose parent it was.
  const candidates: Candidate[] = [
    ...states.flatMap((state) =>
      state.inputs !== null &&
        (state.inputs.parent === undefined
          ? state.parent_state_id === parent
          : state.inputs.parent === step.inputId)
        ? [{ stateId: state.state_id, inputs: state.inputs }]
        : []
    ),
    ...[...unkept.values()].filter((candidate) => candidate.inputs.parent === step.inputId),
  ];
  const candidate = nearest(step, candidates, plan.workDir);
  if (candidate === undefined) {
    return {
      ...base,
      decision: "miss",
      reason_code: "no_matching_state",
      reason: parent === null
        ? "no state was built on this PostgreSQL build's base yet"
        : "nothing was built on its parent yet",
      nearest_state_id: null,
      changed_files: [],
    };
  }
  const { changes, files } = differences(step.inputs, candidate.inputs, plan.workDir);
  const kept = states.some((state) => state.state_id === candidate.stateId);
  return {
    ...base,
    decision: "miss",
    reason_code: "input_changed",
    reason: `compared with ${kept ? "state" : "the step (not kept)"} ${candidate.stateId.slice(0, 12)}: ${
      changes.join("; ")
    }`,
    nearest_state_id: kept ? candidate.stateId : null,
    changed_files: files,
  };
}
