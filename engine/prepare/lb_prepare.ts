/**
 * Liquibase prepares: `update-sql` against a server on the base lists the pending changesets; each
 * changeset is one step keyed by its checksum, the parent state, the Liquibase version and the
 * contexts/labels, and applied alone with `update-count --count 1`. Zero pending changesets still
 * give one step (a plain `update`, which creates Liquibase's tables), so there is always a state.
 *
 * @module
 */

import type { PrepareJobRequestLiquibase } from "../../shared/schemas.ts";
import type { Runtime, ServerHandle } from "../runtime/types.ts";
import { findLiquibase, liquibaseFailure, type LiquibaseTool, runLiquibase } from "./liquibase/lb_tool.ts";
import { applyOneArgs, type LiquibaseArgs, parseLiquibaseArgs, planArgs } from "./liquibase/lb_args.ts";
import {
  changesetRef,
  clearStaleLockSql,
  parsePendingChangesets,
  type PendingChangeset,
  ranChangesets,
} from "./liquibase/lb_plan.ts";
import { chainPlan, type Plan, type PlannerDeps, type StepDraft } from "./planner.ts";
import type { StepAction } from "./step_action.ts";
import { readLines } from "../exec.ts";
import { argsSummary } from "./summary.ts";
import { hashRecords, toHex } from "./fingerprint.ts";
import { SqlrsError } from "../../shared/errors.ts";

/** What Liquibase planning needs besides the common planner deps. */
export interface LiquibasePlannerDeps extends PlannerDeps {
  /** The configured launcher (`liquibase.exec`), if any. */
  configuredExec: string | null;
  /** Runs `fn` against a server started on a clone of the base of the image. */
  withBaseServer<T>(
    imageId: string | undefined,
    fn: (runtime: Runtime, server: ServerHandle) => Promise<T>,
  ): Promise<T>;
}

/** Validates a Liquibase request (400s for refused options or missing paths) without planning. */
export function checkLiquibaseRequest(request: PrepareJobRequestLiquibase): LiquibaseArgs {
  return parseLiquibaseArgs(request.liquibase_args, request.work_dir);
}

function jdbcUrl(server: ServerHandle) {
  return {
    host: "127.0.0.1",
    port: server.port,
    database: "postgres",
    user: server.user,
    password: server.password,
  };
}

async function hashFiles(paths: readonly string[]): Promise<string> {
  const records: Array<[string, string]> = [];
  for (const path of paths) {
    try {
      records.push([path, toHex(await crypto.subtle.digest("SHA-256", await Deno.readFile(path)))]);
    } catch {
      records.push([path, "unreadable"]);
    }
  }
  return await hashRecords(records);
}

async function clearStaleLock(
  runtime: Runtime,
  image: Parameters<Runtime["spawnTool"]>[0],
  server: ServerHandle,
) {
  const child = runtime.spawnTool(image, server, "psql", [
    "-X",
    "-q",
    "-v",
    "ON_ERROR_STOP=1",
    "-c",
    clearStaleLockSql(),
  ], {
    cwd: "/",
  });
  const tail: string[] = [];
  const [, , code] = await Promise.all([
    readLines(child.stdout, () => {}),
    readLines(child.stderr, () => {}, tail),
    child.status,
  ]);
  if (code !== 0) throw new SqlrsError("internal_error", `Cannot clear Liquibase's lock: ${tail.join(" ")}`);
}

function changesetAction(
  changeset: PendingChangeset | null,
  args: LiquibaseArgs,
  tool: LiquibaseTool,
  workDir: string,
  filesHash: string,
): StepAction {
  return {
    kind: "lb",
    summary: changeset === null
      ? "update (no pending changesets)"
      : `${changeset.path}::${changeset.id}::${changeset.author}`,
    // The identity is keyed with the checksum: Liquibase tracks a changeset by path::id::author, so a
    // state built under another spelling of the path is not the same state.
    taskHash: changeset === null
      ? "no-pending-changesets"
      : `${changeset.checksum} ${changesetRef(changeset)}`,
    ...(changeset === null ? {} : {
      changeset: {
        changeset_id: changeset.id,
        changeset_author: changeset.author,
        changeset_path: changeset.path,
      },
    }),
    async run({ runtime, image, server, reporter, taskId, signal }) {
      await clearStaleLock(runtime, image, server);
      // With nothing pending this applies nothing but still creates Liquibase's tracking tables.
      const result = await runLiquibase(tool, applyOneArgs(args), {
        cwd: workDir,
        url: jdbcUrl(server),
        signal,
        onLine: (line) => reporter.log(taskId, `liquibase: ${line}`),
      });
      signal.throwIfAborted();
      if (result.code !== 0) {
        throw new SqlrsError("step_failed", `Step ${taskId} failed: ${liquibaseFailure(result)}`, {
          details: { task_id: taskId, exit_code: result.code },
        });
      }
      // update-count --count 1 applies the next pending changeset, which is not the planned one when
      // a runAlways changeset became pending again: such a state must not be cached under this key.
      const ran = ranChangesets(result.stderr);
      const expected = changeset === null ? [] : [changesetRef(changeset)];
      if (ran.join("\n") !== expected.join("\n")) {
        throw new SqlrsError(
          "step_failed",
          `Step ${taskId} failed: Liquibase applied ${ran.join(", ") || "nothing"} instead of ${
            expected.join(", ") || "nothing"
          } (runAlways changesets cannot be cached one per step)`,
          { details: { task_id: taskId } },
        );
      }
    },
    async verifyUnchanged() {
      if (await hashFiles(args.files) !== filesHash) {
        throw new SqlrsError("conflict", "The changelog files changed while the step ran; run prepare again");
      }
    },
  };
}

/** Plans a Liquibase prepare: pending changesets from `update-sql` on the base. */
export async function planLiquibasePrepare(
  request: PrepareJobRequestLiquibase,
  deps: LiquibasePlannerDeps,
): Promise<Plan> {
  const args = checkLiquibaseRequest(request);
  const image = await deps.resolveImage(request.image_id);
  const tool = await findLiquibase(deps.configuredExec);
  const files = args.files.filter((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
  const filesHash = await hashFiles(files);
  const output = await deps.withBaseServer(request.image_id, async (_runtime, server) => {
    const result = await runLiquibase(tool, planArgs(args), { cwd: request.work_dir, url: jdbcUrl(server) });
    if (result.code !== 0) {
      throw new SqlrsError(
        "invalid_argument",
        `Liquibase could not plan the changelog: ${liquibaseFailure(result)}`,
      );
    }
    return result.stdout;
  });
  const pending = parsePendingChangesets(output);
  const options = args.keyedOptions;
  const toolIdentity = `liquibase ${tool.version}`;
  const drafts: StepDraft[] = (pending.length === 0 ? [null] : pending).map((changeset) => ({
    action: changesetAction(changeset, args, tool, request.work_dir, filesHash),
    options,
    tool: toolIdentity,
    files,
  }));
  return await chainPlan(request, image, drafts, argsSummary(request.liquibase_args), deps);
}
