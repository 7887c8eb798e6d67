/**
 * The Liquibase prepare kind (`lb`): one step per pending changeset, planned by `update-sql` against
 * a server on the base (`lb_prepare.ts`). That takes seconds, so a submit plans only from a cached
 * plan and otherwise leaves planning to the job.
 *
 * @module
 */

import { isAbsolute } from "node:path";
import { invalidArgument } from "../../../shared/errors.ts";
import { mapLbPathOptions } from "../../../shared/prepare_kinds/lb_path_options.ts";
import type { KindPlanDeps, PrepareKind, RequestOf } from "../kinds.ts";
import { checkLiquibaseRequest, type LiquibasePlannerDeps, planLiquibasePrepare } from "./lb_prepare.ts";

function plannerDeps(deps: KindPlanDeps): LiquibasePlannerDeps {
  return { ...deps, configuredExec: deps.config.liquibase.exec };
}

/** `prepare:lb`. */
export const liquibaseKind: PrepareKind<RequestOf<"lb">> = {
  plan: (request, deps) => planLiquibasePrepare(request, plannerDeps(deps)),
  slowPlanning: {
    check: (request) => void checkLiquibaseRequest(request),
    planCached: (request, deps) => planLiquibasePrepare(request, { ...plannerDeps(deps), cachedOnly: true }),
  },
  // Liquibase connects over JDBC (TCP), which needs a password; psql uses the socket.
  buildPassword: true,
  // Relative values resolve against work_dir, which the caller moves into the tree.
  intoTree: (request, inside) => {
    const inTree = (path: string) => isAbsolute(path) ? inside(path) : path;
    const liquibase_args = mapLbPathOptions(
      request.liquibase_args,
      (option, value) =>
        option === "search-path"
          ? value.split(",").map((entry) => inTree(entry.trim())).join(",")
          : inTree(value),
    );
    return Promise.resolve({ ...request, liquibase_args });
  },
  remoteCheck: () => {
    throw invalidArgument(
      "prepare:lb is not served by a team engine yet: a Liquibase changelog can run programs on the " +
        "engine's host (executeCommand); use prepare:psql",
    );
  },
};
