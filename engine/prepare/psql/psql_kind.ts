/**
 * The psql prepare kind: each `-f FILE`, `-f -` and `-c SQL` of the request is one step (see
 * `psql_args.ts`), run by psql (`psql_step.ts`). Planning reads the scripts only, so it is done at
 * submission and a bad request is a 400 before any job exists.
 *
 * @module
 */

import type { KindPlanDeps, PrepareKind, RequestOf } from "../kinds.ts";
import { chainPlan, type Plan, type StepDraft } from "../planner.ts";
import { argsSummary } from "../summary.ts";
import { planPsql } from "./psql_args.ts";
import { psqlIntoTree, psqlWithUrlInputs } from "./psql_sources.ts";
import { psqlStepAction } from "./psql_step.ts";
import { refusePsqlEscapes } from "./psql_team.ts";

type PsqlRequest = RequestOf<"psql">;

/** Plans a psql prepare request. Bad input throws a 400 before any job exists. */
async function planPsqlPrepare(request: PsqlRequest, deps: KindPlanDeps): Promise<Plan> {
  const image = await deps.resolveImage(request.image_id);
  const context = request.stdin === undefined
    ? { workDir: request.work_dir }
    : { workDir: request.work_dir, stdin: request.stdin };
  const psqlPlan = await planPsql(request.psql_args, context);
  const drafts = psqlPlan.steps.map((step): StepDraft => ({
    action: psqlStepAction(step, request.work_dir, request.stdin, request.statement_timeout),
    options: psqlPlan.normalizedOptions,
    tool: image.toolIdentity,
    files: step.files,
  }));
  return await chainPlan(request, image, drafts, argsSummary(request.psql_args), deps);
}

/** `prepare:psql`. */
export const psqlKind: PrepareKind<PsqlRequest> = {
  plan: planPsqlPrepare,
  intoTree: psqlIntoTree,
  withUrlInputs: psqlWithUrlInputs,
  remoteCheck: refusePsqlEscapes,
};
