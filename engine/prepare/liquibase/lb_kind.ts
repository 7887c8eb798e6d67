/**
 * The Liquibase prepare kind (`lb`): one step per pending changeset, planned by `update-sql` against
 * a server on the base (`lb_prepare.ts`). That takes seconds, so a submit plans only from a cached
 * plan and otherwise leaves planning to the job.
 *
 * @module
 */

import type { KindPlanDeps, PrepareKind, RequestOf } from "../kinds.ts";
import { checkLiquibaseRequest, type LiquibasePlannerDeps, planLiquibasePrepare } from "./lb_prepare.ts";

function plannerDeps(deps: KindPlanDeps): LiquibasePlannerDeps {
  return { ...deps, configuredExec: deps.config.liquibase.exec };
}

/** `prepare:lb`. */
export const liquibaseKind: PrepareKind<RequestOf<"lb">> = {
  args: (request) => request.liquibase_args,
  plan: (request, deps) => planLiquibasePrepare(request, plannerDeps(deps)),
  slowPlanning: {
    check: (request) => void checkLiquibaseRequest(request),
    planCached: (request, deps) => planLiquibasePrepare(request, { ...plannerDeps(deps), cachedOnly: true }),
  },
  // Liquibase connects over JDBC (TCP), which needs a password; psql uses the socket.
  buildPassword: true,
};
