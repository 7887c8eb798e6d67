/**
 * `prepare:<kind>` and `plan:<kind>` for every prepare kind (`shared/prepare_kinds.ts`), and `watch`.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import type { PrepareJobRequest, PrepareJobStatus } from "../../shared/schemas.ts";
import { messageOf, SqlrsError } from "../../shared/errors.ts";
import { parseDuration } from "../../shared/duration.ts";
import type { CliContext } from "../context.ts";
import { readStdin } from "../tool_args.ts";
import { prepareRequestFor } from "../../client/requests.ts";
import { PREPARE_KINDS, type PrepareKindName, prepareKindSpec } from "../../shared/prepare_kinds.ts";
import type { UploadStats } from "../../client/sources/upload.ts";
import { followJob, reportCacheHit } from "../progress.ts";
import { nameFailedStep } from "../progress_view.ts";
import { err, out, printJson, shortId, table } from "../output.ts";
import { type CliConfig, loadCliConfig } from "../../client/config.ts";
import { EXIT_DETACHED, ExitError } from "../exit_codes.ts";
import { requireSucceeded } from "../../client/follow_job.ts";
import { resolveJobId } from "../../client/resolve.ts";
import { STATEMENT_TIMEOUT_HELP } from "./run.ts";

type Context = () => CliContext;

/** The prepare flags that shape a request. */
export interface PrepareFlags {
  image?: string | undefined;
  name?: string | undefined;
  rebind?: boolean | undefined;
  keepOld?: boolean | undefined;
  ttl?: string | undefined;
  deadline?: string | undefined;
  statementTimeout?: string | undefined;
}

/** What a prepare's tool args are and where their relative paths start. */
export interface ToolArgs {
  kind: PrepareKindName;
  args: readonly string[];
  /** Relative paths in `args` resolve against this directory. */
  cwd: string;
}

/**
 * An unnamed instance is easily forgotten: unless `--ttl` says otherwise, it goes after the CLI
 * config's `defaults.unnamedTtl`.
 * @throws {SqlrsError} `invalid_argument` naming the key when its value is no duration
 */
function unnamedTtl(config: CliConfig): string | undefined {
  if (config.unnamedTtl === undefined) return undefined;
  try {
    parseDuration(config.unnamedTtl);
  } catch (error) {
    throw new SqlrsError(
      "invalid_argument",
      `Invalid defaults.unnamedTtl in the CLI config: ${messageOf(error)} (or null for no limit)`,
    );
  }
  return config.unnamedTtl;
}

/** Builds a prepare request from CLI flags and tool args. */
export async function prepareRequest(
  tool: ToolArgs,
  flags: PrepareFlags,
  planOnly: boolean,
): Promise<PrepareJobRequest> {
  if (flags.keepOld === true && flags.rebind !== true) {
    throw new SqlrsError("invalid_argument", "--keep-old applies to --rebind only: pass both");
  }
  const config = await loadCliConfig();
  const options = {
    ...flags,
    image: flags.image ?? config.image,
    deadline: flags.deadline ?? config.deadline,
    ttl: planOnly ? undefined : flags.ttl ?? (flags.name === undefined ? unnamedTtl(config) : undefined),
    statementTimeout: planOnly ? undefined : flags.statementTimeout ?? config.statementTimeout,
    planOnly,
    cwd: tool.cwd,
    stdin: readStdin,
  };
  return await prepareRequestFor(tool.kind, tool.args, options);
}

/** Where a detached job can be picked up again; the exit code says that nothing was finished. */
function detached(jobId: string, composite: boolean): ExitError {
  const skipped = composite
    ? '; the run stage was skipped, and the instance the job makes is kept (delete it with "sqlrs rm")'
    : "";
  return new ExitError(
    EXIT_DETACHED,
    `detached: job ${jobId} keeps running${skipped}; follow it with "sqlrs watch ${jobId}"`,
  );
}

/**
 * Follows a job to its end; returns its status when it succeeded.
 * @throws {SqlrsError} `step_failed` or `cancelled` (exit 1) when it did not
 * @throws {ExitError} with {@link EXIT_DETACHED} when the user detached at the control prompt
 */
async function followToSuccess(
  context: CliContext,
  jobId: string,
  composite: boolean,
  request?: PrepareJobRequest,
): Promise<PrepareJobStatus> {
  const status = await followJob(await context.client(), jobId, {
    verbose: context.verbose,
    stallTimeoutMs: context.timeoutMs,
    labelsRelativeTo: request?.work_dir,
    planOnly: request?.plan_only,
  });
  if (status === undefined) throw detached(jobId, composite);
  try {
    return requireSucceeded(status);
  } catch (error) {
    if (error instanceof SqlrsError && error.code === "step_failed") {
      error.message = nameFailedStep(error.message, status.tasks, request?.work_dir ?? Deno.cwd());
    }
    throw error;
  }
}

/**
 * Runs a prepare to its end; returns the final status (used by the composite form too) and, when
 * the client uploaded the files, what it sent.
 */
export async function runPrepare(
  context: CliContext,
  request: PrepareJobRequest,
  watch: boolean,
  composite = false,
): Promise<{ status: PrepareJobStatus; upload: UploadStats | undefined } | undefined> {
  if (watch) {
    // A cache hit finishes within the request, and its steps' lines follow from its status (-v replays
    // its events).
    const answer = await (await context.client()).submitPrepareWaitCached(request);
    if ("status" in answer && answer.status.status === "succeeded" && !context.verbose) {
      reportCacheHit(answer.status, { labelsRelativeTo: request.work_dir });
      return { status: answer.status, upload: answer.upload };
    }
    const jobId = "status" in answer ? answer.status.job_id : answer.accepted.job_id;
    return { status: await followToSuccess(context, jobId, composite, request), upload: answer.upload };
  }
  const accepted = await (await context.client()).submitPrepare(request);
  if (context.json) printJson(accepted);
  else {
    out(`JOB_ID=${accepted.job_id}`);
    err(`follow it with "sqlrs watch ${accepted.job_id}"`);
  }
  return undefined;
}

function printPrepared(context: CliContext, status: PrepareJobStatus, upload?: UploadStats): void {
  const result = status.result;
  if (result === null) return;
  if (context.json) {
    printJson({
      job_id: status.job_id,
      instance_id: result.instance_id,
      state_id: result.state_id,
      dsn: result.dsn,
      name: result.name,
      ...(upload === undefined ? {} : { uploaded: upload }),
    });
  } else {
    if (upload !== undefined) err(`uploaded ${upload.files} file(s), ${upload.bytes} bytes`);
    out(`DSN=${result.dsn}`);
  }
}

function printPlan(context: CliContext, status: PrepareJobStatus, upload?: UploadStats): void {
  if (context.json) {
    printJson({
      prepare_kind: status.prepare_kind,
      image_id: status.image_id,
      prepare_args_normalized: status.prepare_args_normalized,
      tasks: status.tasks,
      ...(upload === undefined ? {} : { uploaded: upload }),
    });
    return;
  }
  const executes = status.tasks.filter((task) => task.type === "state_execute");
  const last = executes[executes.length - 1];
  if (last?.type === "state_execute") out(`final state: ${last.output_state_id}`);
  out(table(
    ["TASK_ID", "TYPE", "CACHED", "OUTPUT_STATE", "ARGS"],
    status.tasks.map((task) =>
      task.type === "state_execute"
        ? [
          task.task_id,
          task.type,
          task.included_in === undefined ? String(task.cached) : "not kept",
          shortId(task.output_state_id),
          task.args_summary,
        ]
        : [task.task_id, task.type, "-", "-", task.type === "resolve_image" ? task.resolved_image_id : "-"]
    ),
  ));
}

/**
 * What a composite form runs after the prepare stage, against its fresh instance; the prepare's
 * `--statement-timeout` applies to the run too unless the run stage sets its own.
 */
export type RunStage = (
  status: PrepareJobStatus,
  inherited: { statementTimeout?: string | undefined },
) => Promise<void>;

/** The flags of a prepare command (of a plan command when `planOnly`). */
export type PrepareCommandFlags = PrepareFlags & { watch?: boolean | undefined };

/** Adds the prepare flags to `command`: the plan commands take only `--image` and `--deadline`. */
export function addPrepareOptions(command: CommandUnknownOpts, planOnly: boolean): void {
  command
    .option("--image <image>", "PostgreSQL build: host, host:15, or a container image")
    .option(
      "--deadline <duration>",
      "cancel the job if it has not finished this long after it was submitted, e.g. 10m (unlike --timeout, which bounds each request to the engine)",
    );
  if (!planOnly) {
    command
      .option("--watch", "follow the job until it ends (default)")
      .option("--no-watch", 'print the job id and return at once (then "sqlrs watch <job-id>")')
      .option("--name <name>", "bind the new instance to this name")
      .option("--rebind", "move an existing name to the new instance, and delete the instance it leaves")
      .option("--keep-old", "with --rebind: keep the instance the name leaves")
      .option("--ttl <duration>", "delete the instance after this long, e.g. 30m")
      .option("--statement-timeout <duration>", STATEMENT_TIMEOUT_HELP);
  }
}

/** Submits a prepare, follows it, and prints its plan, its DSN, or hands its instance to the run stage. */
export async function executePrepare(
  context: CliContext,
  request: PrepareJobRequest,
  flags: PrepareCommandFlags,
  runStage: RunStage | undefined,
): Promise<void> {
  const planOnly = request.plan_only === true;
  if (runStage !== undefined && flags.watch === false) {
    throw new SqlrsError("invalid_argument", "--no-watch cannot be used with a run stage");
  }
  const prepared = await runPrepare(
    context,
    request,
    planOnly || flags.watch !== false,
    runStage !== undefined,
  );
  if (prepared === undefined) return;
  const { status, upload } = prepared;
  if (runStage !== undefined) await runStage(status, { statementTimeout: flags.statementTimeout });
  else if (planOnly) printPlan(context, status, upload);
  else printPrepared(context, status, upload);
}

function prepareCommand(kind: PrepareKindName, planOnly: boolean, context: Context, runStage?: RunStage) {
  const info = prepareKindSpec(kind).info;
  const tool = info.tool;
  const command = new Command(`${planOnly ? "plan" : "prepare"}:${kind}`)
    .description(planOnly ? info.planDescription : info.prepareDescription)
    .usage(
      `[flags] -- [${tool} args...]${planOnly ? "" : " [run:psql|run:pgbench [flags] -- [tool args...]]"}`,
    )
    .argument(`[${tool}-args...]`, info.argsHelp)
    // Unknown options before "--" are sqlrs's to refuse (main() says where tool args go); after
    // "--", or after the first tool argument, everything is the tool's.
    .passThroughOptions()
    .allowExcessArguments();
  addPrepareOptions(command, planOnly);
  if (!planOnly) command.addHelpText("after", info.prepareHelp);
  return command.action(async (toolArgs, flags) => {
    const options = flags as PrepareCommandFlags;
    const request = await prepareRequest({ kind, args: toolArgs, cwd: Deno.cwd() }, options, planOnly);
    await executePrepare(context(), request, options, runStage);
  });
}

/** `prepare:<kind>` and `plan:<kind>` of every prepare kind. */
export function prepareKindCommands(context: Context, runStage?: RunStage) {
  return PREPARE_KINDS.flatMap((kind) => [
    prepareCommand(kind, false, context, runStage),
    prepareCommand(kind, true, context),
  ]);
}

/** `watch <job>`. */
export function watchCommand(context: Context) {
  return new Command("watch")
    .description("Follow a prepare job until it ends")
    .argument("<job-id>", "the job id or an 8+ hex prefix of it")
    .action(async (ref) => {
      const jobId = await resolveJobId(await context().client(), ref);
      const status = await followToSuccess(context(), jobId, false);
      if (status.plan_only) printPlan(context(), status);
      else printPrepared(context(), status);
    });
}
