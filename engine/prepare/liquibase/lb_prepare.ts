/**
 * Liquibase prepares: `update-sql` against a server on the base lists the pending changesets; each
 * changeset is one step keyed by its checksum, its SQL, the parent state, the Liquibase version and
 * the keyed options, and a series of consecutive steps is applied in one Liquibase run
 * (`update-count --count N`). Zero pending changesets still give one step (which creates Liquibase's
 * tables), so there is always a state.
 *
 * The plan is cached under the content of every file under the search roots and the classpath, the
 * Liquibase version and the args, so a warm `prepare:lb` starts no Java.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import type { PrepareJobRequestLiquibase } from "../../../shared/schemas.ts";
import type { Runtime, ServerHandle } from "../../runtime/types.ts";
import { serverAddress } from "../../runtime/address.ts";
import { findLiquibase, liquibaseFailure, type LiquibaseTool } from "./lb_tool.ts";
import { runLiquibaseFast } from "./lb_fast_start.ts";
import { applyArgs, contextOptions, type LiquibaseArgs, parseLiquibaseArgs, planArgs } from "./lb_args.ts";
import {
  changesetRef,
  clearStaleLockSql,
  parsePendingChangesets,
  type PendingChangeset,
  ranChangesets,
} from "./lb_plan.ts";
import { hashFiles, parsedChangelogs, sqlFilesByChangeset, treeDigest } from "./lb_inputs.ts";
import { readCachedPlan, writeCachedPlan } from "./lb_plan_cache.ts";
import { runAlwaysChangesets } from "./lb_run_always.ts";
import { chainPlan, type Plan, type PlannerDeps, type StepDraft } from "../planner.ts";
import type { SeriesStep, StepAction, StepContext } from "../step_action.ts";
import { argsSummary } from "../summary.ts";
import { hashRecords } from "../fingerprint.ts";
import { invalidArgument, SqlrsError } from "../../../shared/errors.ts";

/** What Liquibase planning needs besides the common planner deps. */
export interface LiquibasePlannerDeps extends PlannerDeps {
  /** The configured launcher (`liquibase.exec`), if any. */
  configuredExec: string | null;
  /** Runs `fn` against a server started on a clone of the base of the image. */
  withBaseServer<T>(
    imageId: string | undefined,
    fn: (runtime: Runtime, server: ServerHandle) => Promise<T>,
  ): Promise<T>;
  /**
   * The store's root: plans are cached in `cache/liquibase-plans` under it, and nothing under it is
   * an input. Null plans with Liquibase every time.
   */
  storeRoot: string | null;
  /** Plan only from the cached plan: resolve with null where Liquibase would have to run. */
  cachedOnly?: boolean;
}

/** Validates a Liquibase request (400s for refused options or missing paths) without planning. */
export function checkLiquibaseRequest(request: PrepareJobRequestLiquibase): LiquibaseArgs {
  return parseLiquibaseArgs(request.liquibase_args, request.work_dir);
}

function jdbcUrl(server: ServerHandle, statementTimeout?: string) {
  return {
    host: serverAddress(server),
    port: server.port,
    database: "postgres",
    user: server.user,
    password: server.password,
    statementTimeout,
  };
}

/** Runs one SQL command with psql on the server: its exit code, stdout lines and stderr tail. */
async function psqlCommand(
  runtime: Runtime,
  image: Parameters<Runtime["spawnTool"]>[0],
  server: ServerHandle,
  sql: string,
): Promise<{ code: number; lines: string[]; tail: string[] }> {
  const { code, stdout, stderr } = await runtime.exec(image, server, "psql", [
    "-X",
    "-q",
    "-A",
    "-t",
    "-v",
    "ON_ERROR_STOP=1",
    "-c",
    sql,
  ], {
    cwd: "/",
  });
  const lines = stdout.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return { code, lines, tail: stderr.trimEnd().split("\n").slice(-20) };
}

async function clearStaleLock(
  runtime: Runtime,
  image: Parameters<Runtime["spawnTool"]>[0],
  server: ServerHandle,
) {
  const { code, tail } = await psqlCommand(runtime, image, server, clearStaleLockSql());
  if (code !== 0) throw new SqlrsError("internal_error", `Cannot clear Liquibase's lock: ${tail.join(" ")}`);
}

/** The schema of Liquibase's tables when the args name one (else the connection's search path). */
function trackingSchema(args: LiquibaseArgs): string | null {
  for (const option of [...args.globalOptions, ...args.commandOptions]) {
    const match = /^--(?:liquibase-schema-name|default-schema-name)=(.+)$/.exec(option);
    if (match !== null) return match[1] as string;
  }
  return null;
}

/** `path::id::author` → the checksum Liquibase recorded, or null when the table cannot be read. */
async function recordedChecksums(
  context: Omit<StepContext, "taskId">,
  args: LiquibaseArgs,
): Promise<Map<string, string> | null> {
  const schema = trackingSchema(args);
  const table = schema === null ? "databasechangelog" : `"${schema.replaceAll('"', '""')}".databasechangelog`;
  const { code, lines } = await psqlCommand(
    context.runtime,
    context.image,
    context.server,
    `select filename || '::' || id || '::' || author || chr(9) || coalesce(md5sum, '') from ${table}`,
  );
  if (code !== 0) return null;
  return new Map(
    lines.filter((line) => line.includes("\t")).map((line) => {
      const tab = line.lastIndexOf("\t");
      return [line.slice(0, tab), line.slice(tab + 1)];
    }),
  );
}

/** What every step of one Liquibase plan shares. */
interface LiquibaseRun {
  args: LiquibaseArgs;
  tool: LiquibaseTool;
  /** Where the JVM's faster start is kept (see lb_fast_start.ts), or null. */
  jvmCache: string | null;
  workDir: string;
  /** The request's `statement_timeout` for the changesets (not in their keys, as for psql steps). */
  statementTimeout: string | undefined;
  /** The plan's changesets in order (empty: nothing pending). */
  changesets: readonly PendingChangeset[];
  /** Refs of the runAlways changesets among them. */
  runAlways: ReadonlySet<string>;
  /** The files whose content the steps' keys assume, and their hash at planning. */
  files: readonly string[];
  filesHash: string;
}

/** A Liquibase step: one changeset (or nothing pending) of a {@link LiquibaseRun}. */
interface ChangesetAction extends StepAction {
  readonly lbRun: LiquibaseRun;
  /** Index in `lbRun.changesets`; 0 with nothing pending. */
  readonly index: number;
}

function isChangesetAction(action: StepAction, run: LiquibaseRun): action is ChangesetAction {
  return (action as Partial<ChangesetAction>).lbRun === run;
}

/** The task a failed run is attributed to: the changeset Liquibase names, else the last one it started. */
function failedTask(
  output: string,
  steps: readonly SeriesStep[],
  refs: readonly string[],
): string {
  const named = /Migration failed for changeset (.+?):\s*$/m.exec(output)?.[1];
  const started = ranChangesets(output);
  for (const ref of [named, started[started.length - 1]]) {
    const index = ref === undefined ? -1 : refs.indexOf(ref);
    if (index !== -1) return (steps[index] as SeriesStep).taskId;
  }
  return (steps[0] as SeriesStep).taskId;
}

/**
 * Applies `steps` (consecutive changesets of `run`, starting on the state before the first) with one
 * `update-count --count N`. A runAlways changeset before the first step is pending again on that
 * state, so Liquibase re-runs it first, as `liquibase update` on that database would: it is counted
 * and expected. Anything else applied is an error, never a state cached under the wrong key.
 */
async function applySeries(
  run: LiquibaseRun,
  context: Omit<StepContext, "taskId">,
  steps: readonly SeriesStep[],
): Promise<void> {
  const { runtime, image, server, reporter, signal } = context;
  if (steps.length === 0) return;
  const head = (steps[0] as SeriesStep).action;
  const first = isChangesetAction(head, run) ? head.index : 0;
  const actions = steps.map((step, i) => {
    if (!isChangesetAction(step.action, run) || step.action.index !== first + i) {
      throw new SqlrsError("internal_error", "A Liquibase series must be consecutive changesets of one plan");
    }
    return step.action;
  });
  const planned = run.changesets.slice(first, first + actions.length).map(changesetRef);
  const reruns = run.changesets.slice(0, first).map(changesetRef).filter((ref) => run.runAlways.has(ref));
  const expected = [...reruns, ...planned];
  const count = Math.max(1, expected.length);
  const firstTask = (steps[0] as SeriesStep).taskId;
  await clearStaleLock(runtime, image, server);
  const result = await runLiquibaseFast(run.tool, applyArgs(run.args, count), {
    cwd: run.workDir,
    url: jdbcUrl(server, run.statementTimeout),
    signal,
    onLine: (line) => reporter.log(firstTask, `liquibase: ${line}`),
  }, run.jvmCache);
  signal.throwIfAborted();
  const output = `${result.stderr}\n${result.stdout}`;
  if (result.code !== 0) {
    const taskId = failedTask(output, steps, planned);
    throw new SqlrsError("step_failed", `Step ${taskId} failed: ${liquibaseFailure(result)}`, {
      details: { task_id: taskId, exit_code: result.code },
    });
  }
  const ran = ranChangesets(result.stderr);
  if (ran.join("\n") !== expected.join("\n")) {
    throw new SqlrsError(
      "step_failed",
      `Step ${firstTask} failed: Liquibase applied ${ran.join(", ") || "nothing"} instead of ${
        expected.join(", ") || "nothing"
      }`,
      { details: { task_id: firstTask } },
    );
  }
  // A file only a changeset's checksum covers (a sqlFile's SQL, a loadData CSV) may have changed
  // since planning: what Liquibase recorded must be the checksum the step's key was made of.
  const recorded = await recordedChecksums(context, run.args);
  if (recorded === null) {
    reporter.log(firstTask, "cannot read databasechangelog to check the applied checksums");
    return;
  }
  actions.forEach((action, i) => {
    const changeset = run.changesets[action.index];
    if (changeset === undefined || changeset.checksum.startsWith("sha256:")) return;
    const found = recorded.get(changesetRef(changeset));
    if (found !== undefined && found !== changeset.checksum) {
      throw new SqlrsError(
        "conflict",
        `The input of ${changesetRef(changeset)} changed while the step ran (checksum ${found}, planned ` +
          `${changeset.checksum}); run prepare again`,
        { details: { task_id: (steps[i] as SeriesStep).taskId } },
      );
    }
  });
}

function changesetAction(run: LiquibaseRun, index: number): ChangesetAction {
  const changeset = run.changesets[index] ?? null;
  const action: ChangesetAction = {
    lbRun: run,
    index,
    kind: "lb",
    // With the project's directory: a changeset's path is relative to it, and `ls -s` shows states of
    // several projects side by side.
    summary: `${
      changeset === null ? "update (no pending changesets)" : changesetRef(changeset)
    } in ${run.workDir}`,
    // The identity is keyed with the checksum: Liquibase tracks a changeset by path::id::author, so a
    // state built under another spelling of the path is not the same state. The printed SQL shows
    // what the context/label filters and changelog properties did to the changeset.
    taskHash: changeset === null
      ? "no-pending-changesets"
      : `${changeset.checksum} ${changesetRef(changeset)} sql-sha256=${sqlHash(changeset.sql)}`,
    ...(changeset === null ? {} : {
      changeset: {
        changeset_id: changeset.id,
        changeset_author: changeset.author,
        changeset_path: changeset.path,
      },
    }),
    run: (context) => applySeries(run, context, [{ action, taskId: context.taskId }]),
    runSeries: (context, steps) => applySeries(run, context, steps),
    async verifyUnchanged() {
      if (await hashFiles(run.files) !== run.filesHash) {
        throw new SqlrsError("conflict", "The changelog files changed while the step ran; run prepare again");
      }
    },
  };
  return action;
}

function sqlHash(sql: string): string {
  return createHash("sha256").update(sql).digest("hex");
}

/** The runAlways changesets among `changesets`, from the changelogs that hold them. */
async function findRunAlways(
  changesets: readonly PendingChangeset[],
  changelogs: readonly string[],
): Promise<Set<string>> {
  const result = new Set<string>();
  for (const changelog of changelogs) {
    const flagged = runAlwaysChangesets(await Deno.readTextFile(changelog));
    if (flagged.size === 0) continue;
    for (const changeset of changesets) {
      const path = changeset.path.replace(/^classpath:/, "").replace(/^\/+/, "");
      if (
        (changelog === path || changelog.endsWith(`/${path}`)) &&
        flagged.has(`${changeset.author}:${changeset.id}`)
      ) {
        result.add(changesetRef(changeset));
      }
    }
  }
  return result;
}

/** Runs `update-sql` on the base: its output and the changelogs Liquibase parsed. */
async function planWithLiquibase(
  request: PrepareJobRequestLiquibase,
  args: LiquibaseArgs,
  tool: LiquibaseTool,
  deps: LiquibasePlannerDeps,
): Promise<{ output: string; changelogs: string[]; sqlFiles: Record<string, string[]>; durationMs: number }> {
  return await deps.withBaseServer(request.image_id, async (_runtime, server) => {
    const result = await runLiquibaseFast(
      tool,
      planArgs(args),
      { cwd: request.work_dir, url: jdbcUrl(server) },
      jvmCacheDir(deps.storeRoot),
    );
    if (result.code !== 0) {
      throw new SqlrsError(
        "invalid_argument",
        `Liquibase could not plan the changelog: ${liquibaseFailure(result)}`,
      );
    }
    return {
      output: result.stdout,
      changelogs: parsedChangelogs(result.stderr, args.roots),
      sqlFiles: sqlFilesByChangeset(result.stderr, args.roots),
      durationMs: result.durationMs,
    };
  });
}

/**
 * Plans a Liquibase prepare: pending changesets from `update-sql` on the base (or its cached plan).
 * With `deps.cachedOnly`, null instead of running Liquibase.
 */
export async function planLiquibasePrepare(
  request: PrepareJobRequestLiquibase,
  deps: LiquibasePlannerDeps & { cachedOnly: true },
): Promise<Plan | null>;
export async function planLiquibasePrepare(
  request: PrepareJobRequestLiquibase,
  deps: LiquibasePlannerDeps,
): Promise<Plan>;
export async function planLiquibasePrepare(
  request: PrepareJobRequestLiquibase,
  deps: LiquibasePlannerDeps,
): Promise<Plan | null> {
  const args = checkLiquibaseRequest(request);
  const image = await deps.resolveImage(request.image_id);
  const cacheDir = deps.storeRoot === null ? null : join(deps.storeRoot, "cache", "liquibase-plans");
  const tool = await findLiquibase(
    deps.configuredExec,
    deps.storeRoot === null ? {} : { versionFile: join(deps.storeRoot, "cache", "liquibase-versions.json") },
  );
  const options = [...args.keyedOptions];
  if (args.classpath.length > 0) {
    const classpathHash = await treeDigest(args.classpath);
    if (classpathHash === null) {
      throw invalidArgument(
        "The --classpath entries hold too many files to key; point it at the jars Liquibase needs",
      );
    }
    options.push(`classpath-sha256=${classpathHash}`);
    options.sort();
  }
  // Everything the plan depends on: a different value of any of these plans again.
  // A store inside the project (SQLRS_STATE_STORE=./.sqlrs) is not an input.
  const skip = deps.storeRoot === null ? [] : [deps.storeRoot];
  const tree = await treeDigest([...args.roots, ...args.files, ...args.classpath], skip);
  const planKey = tree === null ? null : await hashRecords([
    ["liquibase", `${tool.path} ${tool.version}`],
    ["image", image.resolvedId],
    ["work_dir", request.work_dir],
    ["args", planArgs(args).join("\0")],
    ["options", options.join("\0")],
    ["tree", tree],
  ]);
  let planned = cacheDir === null || planKey === null ? null : await readCachedPlan(cacheDir, planKey);
  // A JVM that applied nothing: what starting Liquibase costs, which the keep policy weighs.
  let toolStartMs: number | undefined;
  if (planned === null && deps.cachedOnly === true) return null;
  if (planned === null) {
    const { output, changelogs, sqlFiles, durationMs } = await planWithLiquibase(request, args, tool, deps);
    planned = { output, changelogs, sqlFiles };
    toolStartMs = durationMs;
    if (cacheDir !== null && planKey !== null) await writeCachedPlan(cacheDir, planKey, planned);
  }
  const changesets = parsePendingChangesets(planned.output);
  const files = [...new Set([...args.files, ...planned.changelogs, ...args.classpath.filter(isFile)])];
  const run: LiquibaseRun = {
    args,
    tool,
    jvmCache: jvmCacheDir(deps.storeRoot),
    workDir: request.work_dir,
    statementTimeout: request.statement_timeout,
    changesets,
    runAlways: await findRunAlways(changesets, planned.changelogs),
    files,
    filesHash: await hashFiles(files),
  };
  const toolIdentity = `liquibase ${tool.version}`;
  const drafts: StepDraft[] = (changesets.length === 0 ? [null] : changesets).map((changeset, index) => ({
    action: changesetAction(run, index),
    // A changeset that prints no SQL (a customChange) cannot show what the filters did to it.
    options: changeset !== null && printsNoSql(changeset)
      ? [...options, ...contextOptions(args)].sort()
      : options,
    tool: toolIdentity,
    // A sqlFile's content is in the changeset's checksum; listing it names it when it changes.
    files: changeset === null ? files : [...files, ...(planned.sqlFiles[changesetRef(changeset)] ?? [])],
  }));
  const plan = await chainPlan(request, image, drafts, argsSummary(request.liquibase_args), deps);
  return toolStartMs === undefined ? plan : { ...plan, toolStartMs };
}

/** Whether a changeset's printed SQL is empty or only comments (a customChange that runs Java). */
function printsNoSql(changeset: PendingChangeset): boolean {
  return changeset.sql.split("\n").every((line) => line.trim() === "" || line.trim().startsWith("--"));
}

function jvmCacheDir(storeRoot: string | null): string | null {
  return storeRoot === null ? null : join(storeRoot, "cache", "liquibase-jvm");
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
