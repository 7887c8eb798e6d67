/**
 * Turns a prepare request into a plan: the resolved image, one `state_execute` task per step with
 * its fingerprint (the output state id), which of them are cached, and the final state.
 *
 * A step's fingerprint chains its parent (the base of the build, or the previous state) with what
 * the step reads and the tools that run it, so the same inputs always give the same state id.
 *
 * @module
 */

import type { PrepareJobRequest, PreparePlanTask } from "../../shared/schemas.ts";
import type { PrepareKindName } from "../../shared/prepare_kinds.ts";
import type { ResolvedImage } from "../runtime/types.ts";
import type { StateInputs } from "../registry/registry.ts";
import { hashRecords, stateFingerprint } from "./fingerprint.ts";
import { fileDigest } from "./file_digests.ts";
import type { StepAction } from "./step_action.ts";

/** One step to execute, with where it starts from and what it produces. */
export interface PlannedStep {
  taskId: string;
  /** `base:<resolved image>` or a parent state id. */
  inputId: string;
  inputKind: "image" | "state";
  outputStateId: string;
  action: StepAction;
  /** The step does not run: its state, or a later state of the plan, exists. */
  cached: boolean;
  /** When cached but its own state was not kept: the later state of the plan that includes its result. */
  includedIn?: string;
  /** What the step reads, recorded with its state for `cache explain`. */
  inputs: StateInputs;
}

/** A complete plan. */
export interface Plan {
  prepareKind: PrepareKindName;
  image: ResolvedImage;
  steps: PlannedStep[];
  finalStateId: string;
  argsNormalized: string;
  signature: string;
  tasks: PreparePlanTask[];
  /** Where the tools run, so that relative paths resolve as they did when the content was hashed. */
  workDir: string;
  /**
   * How long a run of the step's tool that applied nothing took, when planning made one (Liquibase's
   * `update-sql`): the tool's start, for the keep policy (see keep_policy.ts).
   */
  toolStartMs?: number;
}

/** A step as a kind-specific planner describes it, before it is chained to its parent. */
export interface StepDraft {
  action: StepAction;
  /** Options that change the result, in canonical spelling (keyed). */
  options: readonly string[];
  /** Identity of the tool that runs the step (psql build, Liquibase version). */
  tool: string;
  /** Files the step reads (hashed one by one for `cache explain`). */
  files: readonly string[];
}

/** What the planner needs from the rest of the engine. */
export interface PlannerDeps {
  resolveImage(imageId: string | undefined): Promise<ResolvedImage>;
  stateExists(stateId: string): boolean;
}

/** The identity of a build's base cluster, the parent of a first step. */
export function baseIdentity(image: ResolvedImage): string {
  return `base:${image.resolvedId}`;
}

/**
 * The content hash of each of `paths`, each file read once per plan (`known`): the steps of a Liquibase
 * plan all list every changelog file, so 300 changesets over 100 files would read 30,000 files.
 */
async function fileHashes(
  paths: readonly string[],
  known: Map<string, Promise<string>>,
): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const path of paths) {
    let hash = known.get(path);
    if (hash === undefined) {
      hash = fileDigest(path);
      known.set(path, hash);
    }
    hashes[path] = await hash;
  }
  return hashes;
}

/**
 * Marks the steps that do not run: everything up to the last step whose state exists (a miss resumes
 * from the nearest kept ancestor; the states between kept ones were never snapshotted).
 */
function markCached(steps: PlannedStep[], stateExists: (stateId: string) => boolean): void {
  const last = steps.findLastIndex((step) => stateExists(step.outputStateId));
  for (const [index, step] of steps.slice(0, last + 1).entries()) {
    step.cached = true;
    if (index < last && !stateExists(step.outputStateId)) {
      step.includedIn = (steps[last] as PlannedStep).outputStateId;
    }
  }
}

/** Chains drafted steps from the base of `image` into a plan with its tasks. */
export async function chainPlan(
  request: PrepareJobRequest,
  image: ResolvedImage,
  drafts: readonly StepDraft[],
  argsNormalized: string,
  deps: Pick<PlannerDeps, "stateExists">,
): Promise<Plan> {
  const steps: PlannedStep[] = [];
  let inputId = baseIdentity(image);
  let inputKind: PlannedStep["inputKind"] = "image";
  const hashed = new Map<string, Promise<string>>();
  for (const [index, draft] of drafts.entries()) {
    const outputStateId = await stateFingerprint({
      parent: inputId,
      kind: draft.action.kind,
      contentHash: draft.action.taskHash,
      options: draft.options,
      toolIdentity: draft.tool,
    });
    steps.push({
      taskId: `execute-${index}`,
      inputId,
      inputKind,
      outputStateId,
      action: draft.action,
      cached: false,
      inputs: {
        input: draft.action.summary,
        options: [...draft.options],
        tool: draft.tool,
        files: await fileHashes(draft.files, hashed),
        parent: inputId,
      },
    });
    inputId = outputStateId;
    inputKind = "state";
  }
  markCached(steps, deps.stateExists);
  const finalStateId = inputId;
  const signature = await hashRecords([
    ["final_state", finalStateId],
    ["plan_only", String(request.plan_only === true)],
  ]);
  const tasks: PreparePlanTask[] = [
    { task_id: "plan", type: "plan", planner_kind: request.prepare_kind },
    {
      task_id: "resolve-image",
      type: "resolve_image",
      image_id: image.imageId,
      resolved_image_id: image.resolvedId,
    },
    ...steps.map((step): PreparePlanTask => ({
      task_id: step.taskId,
      type: "state_execute",
      input: { kind: step.inputKind, id: step.inputKind === "image" ? image.resolvedId : step.inputId },
      task_hash: step.action.taskHash,
      output_state_id: step.outputStateId,
      cached: step.cached,
      ...(step.includedIn === undefined ? {} : { included_in: step.includedIn }),
      args_summary: step.action.summary,
      ...step.action.changeset,
    })),
  ];
  if (request.plan_only !== true) {
    tasks.push({
      task_id: "prepare-instance",
      type: "prepare_instance",
      input: { kind: "state", id: finalStateId },
      instance_mode: "ephemeral",
    });
  }
  return {
    prepareKind: request.prepare_kind,
    image,
    steps,
    finalStateId,
    argsNormalized,
    signature,
    tasks,
    workDir: request.work_dir,
  };
}
