/**
 * Turns a prepare request into a plan: the resolved image, one `state_execute` task per step with
 * its fingerprint (the output state id), which of them are cached, and the final state.
 *
 * @module
 */

import type { PrepareJobRequest, PreparePlanTask } from "../../shared/schemas.ts";
import type { ResolvedImage } from "../runtime/types.ts";
import type { StateInputs } from "../registry/registry.ts";
import { hashRecords, stateFingerprint, toHex } from "./fingerprint.ts";
import { planPsql, type PsqlStep } from "./psql_args.ts";

/** One step to execute, with where it starts from and what it produces. */
export interface PlannedStep {
  taskId: string;
  /** `base:<resolved image>` or a parent state id. */
  inputId: string;
  inputKind: "image" | "state";
  outputStateId: string;
  psql: PsqlStep;
  cached: boolean;
  /** What the step reads, recorded with its state for `cache explain`. */
  inputs: StateInputs;
}

/** A complete plan. */
export interface Plan {
  image: ResolvedImage;
  steps: PlannedStep[];
  finalStateId: string;
  argsNormalized: string;
  signature: string;
  tasks: PreparePlanTask[];
  /** Where psql runs, so that `\i` resolves as it did when the content was hashed. */
  workDir: string;
  stdin: string | undefined;
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

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** A short human form of the args: `-f schema.sql`, `-c 'select 1'`. */
export function argsSummary(args: readonly string[]): string {
  return args.map(shellQuote).join(" ");
}

function inputSummary(step: PsqlStep): string {
  const input = step.input;
  if (input.kind === "file") return argsSummary(["-f", input.path]);
  if (input.kind === "command") return argsSummary(["-c", input.sql]);
  return "-f -";
}

async function fileHashes(paths: readonly string[]): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const path of paths) {
    hashes[path] = toHex(await crypto.subtle.digest("SHA-256", await Deno.readFile(path)));
  }
  return hashes;
}

/** Plans a psql prepare request. Bad input throws a 400 before any job exists. */
export async function planPrepare(request: PrepareJobRequest, deps: PlannerDeps): Promise<Plan> {
  const image = await deps.resolveImage(request.image_id);
  const psqlPlan = await planPsql(
    request.psql_args,
    request.stdin === undefined
      ? { workDir: request.work_dir }
      : { workDir: request.work_dir, stdin: request.stdin },
  );
  const steps: PlannedStep[] = [];
  let inputId = baseIdentity(image);
  let inputKind: PlannedStep["inputKind"] = "image";
  for (const [index, psql] of psqlPlan.steps.entries()) {
    const outputStateId = await stateFingerprint({
      parent: inputId,
      kind: "psql",
      contentHash: psql.contentHash,
      options: psqlPlan.normalizedOptions,
      toolIdentity: image.toolIdentity,
    });
    steps.push({
      taskId: `execute-${index}`,
      inputId,
      inputKind,
      outputStateId,
      psql,
      cached: deps.stateExists(outputStateId),
      inputs: {
        input: inputSummary(psql),
        options: psqlPlan.normalizedOptions,
        tool: image.toolIdentity,
        files: await fileHashes(psql.files),
      },
    });
    inputId = outputStateId;
    inputKind = "state";
  }
  const finalStateId = inputId;
  const argsNormalized = argsSummary(request.psql_args);
  const signature = await hashRecords([
    ["final_state", finalStateId],
    ["plan_only", String(request.plan_only === true)],
  ]);
  const tasks: PreparePlanTask[] = [
    { task_id: "plan", type: "plan", planner_kind: "psql" },
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
      task_hash: step.psql.contentHash,
      output_state_id: step.outputStateId,
      cached: step.cached,
      args_summary: inputSummary(step.psql),
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
    image,
    steps,
    finalStateId,
    argsNormalized,
    signature,
    tasks,
    workDir: request.work_dir,
    stdin: request.stdin,
  };
}
