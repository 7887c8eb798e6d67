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

function nearest(step: PlannedStep, siblings: readonly StateRow[], workDir: string): StateRow | undefined {
  const score = (state: StateRow) => {
    if (state.inputs === null) return -1;
    const { changes } = differences(step.inputs, state.inputs, workDir);
    return (state.inputs.input === step.inputs.input ? 100 : 0) - changes.length;
  };
  return [...siblings].sort((a, b) => score(b) - score(a))[0];
}

/**
 * Explains the cache decision for every step of a plan. Steps up to the last cached one do not run
 * (those whose state was not kept are part of it); the first step after it is the miss to explain,
 * compared with the nearest state built on its parent; every later step runs because it does.
 */
export function explainPlan(plan: Plan, registry: Registry): CacheExplain {
  const steps: CacheExplainStep[] = [];
  let firstMiss: string | undefined;
  for (const step of plan.steps) {
    const base = { task_id: step.taskId, input: step.inputs.input, output_state_id: step.outputStateId };
    if (step.cached) {
      const kept = step.includedIn === undefined;
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
    const parent = step.inputKind === "state" ? step.inputId : null;
    // States built from the parent, which may be several steps further when the ones between were
    // not kept: only those with the same chain parent (recorded since states are kept by cost) compare.
    const siblings = registry.siblingStates(parent, plan.image.storeDir)
      .filter((state) => state.inputs?.parent === undefined || state.inputs.parent === step.inputId);
    const candidate = nearest(step, siblings, plan.workDir);
    if (candidate === undefined || candidate.inputs === null) {
      steps.push({
        ...base,
        decision: "miss",
        reason_code: "no_matching_state",
        reason: parent === null
          ? "no state was built on this PostgreSQL build's base yet"
          : "no state was kept on its parent yet (states are kept by cost)",
        nearest_state_id: null,
        changed_files: [],
      });
      continue;
    }
    const { changes, files } = differences(step.inputs, candidate.inputs, plan.workDir);
    steps.push({
      ...base,
      decision: "miss",
      reason_code: "input_changed",
      reason: `compared with state ${candidate.state_id.slice(0, 12)}: ${changes.join("; ")}`,
      nearest_state_id: candidate.state_id,
      changed_files: files,
    });
  }
  return {
    decision: firstMiss === undefined ? "hit" : "miss",
    image_id: plan.image.imageId,
    resolved_image_id: plan.image.resolvedId,
    final_state_id: plan.finalStateId,
    steps,
  };
}
