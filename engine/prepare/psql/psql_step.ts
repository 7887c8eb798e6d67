/**
 * A psql step: runs psql with the step's input (a file, stdin or `-c`) against the server, with
 * `-X -v ON_ERROR_STOP=1` enforced, and afterwards re-hashes the inputs so that a state is never
 * published under a key its content no longer matches.
 *
 * Consecutive steps run as a series in one psql process (`-f a -f b -c …`, in order), which is what
 * makes a long migration history cost about what running it by hand costs. Each step still starts as
 * it would in a psql of its own:
 * - a fresh session: between steps psql reconnects (`\connect postgres postgres`: an open transaction
 *   is rolled back, `\c` elsewhere is undone, `ALTER DATABASE/ROLE … SET` is picked up) or, when the
 *   step's text can do none of that, runs `DISCARD ALL` (SET, temporary tables, prepared statements);
 * - fresh psql variables, directory and output: a step whose text can change them (`\set`, `\cd`, `\o`, …)
 *   ends its psql process, and the next step starts a new one. So does every step under
 *   `--single-transaction`, which would otherwise wrap the whole series in one transaction.
 * Before each step psql writes a marker line to stderr (`\warn`), so the step that failed, and the
 * step each output line belongs to, are known without parsing psql's messages.
 *
 * @module
 */

import { SqlrsError } from "../../../shared/errors.ts";
import { expandPsqlContent } from "./psql_includes.ts";
import type { PsqlStep } from "./psql_args.ts";
import { argsSummary } from "../summary.ts";
import { type SeriesStep, type StepAction, type StepContext, stepFailed } from "../step_action.ts";
import { readLines } from "../../exec.ts";
import { toolDatabase } from "../../session_options.ts";
import type { ToolOptions } from "../../runtime/types.ts";

/** `-f /abs/file.sql`, `-f -` or `-c '…'`. */
export function psqlInputSummary(step: PsqlStep): string {
  const input = step.input;
  if (input.kind === "file") return argsSummary(["-f", input.path]);
  if (input.kind === "command") return argsSummary(["-c", input.sql]);
  return "-f -";
}

/** What a psql action runs, for {@link runPsqlSeries} (actions are opaque to the executor). */
interface PsqlRun {
  step: PsqlStep;
  stdin: string | undefined;
  /** The request's `statement_timeout` (the same for every step of a job). */
  statementTimeout: string | undefined;
}
const psqlRuns = new WeakMap<StepAction, PsqlRun>();

/** psql meta-commands whose effect outlives the step in the same process (variables, directory, output). */
const ENDS_PROCESS = /\\(?:set|unset|gset|getenv|setenv|cd|encoding|o|out)\b/;
/** What only a new session undoes: another database, an open transaction, new per-database settings. */
const NEEDS_RECONNECT = [
  /\\c(?:onnect)?\b/,
  /\b(?:begin|start\s+transaction)\b/i,
  /\balter\s+(?:database|role|user)\b/i,
];

/** What a step's text asks of the psql process it runs in. */
interface StepTraits {
  /** It changes psql's own state (variables, directory, output): it ends its process. */
  endsProcess: boolean;
  /** The next step needs a new session, not just `DISCARD ALL`. */
  needsReconnect: boolean;
}

/** Characters of one chunk kept for the next, so that a pattern split between chunks is still seen. */
const PATTERN_OVERLAP = 256;

/**
 * The traits of a step's text and everything it includes, as psql will read it now. Files are read
 * as streams, in windows that overlap, so a large script never sits in memory whole.
 */
async function stepTraits({ step, stdin }: PsqlRun): Promise<StepTraits> {
  const traits: StepTraits = { endsProcess: false, needsReconnect: false };
  const scan = (window: string) => {
    traits.endsProcess ||= ENDS_PROCESS.test(window);
    traits.needsReconnect ||= NEEDS_RECONNECT.some((pattern) => pattern.test(window));
  };
  const input = step.input;
  if (input.kind !== "file") {
    scan(input.kind === "command" ? input.sql : stdin ?? "");
    return traits;
  }
  for (const path of step.files) {
    const file = await Deno.open(path);
    let tail = "";
    for await (const chunk of file.readable.pipeThrough(new TextDecoderStream())) {
      const window = tail + chunk;
      scan(window);
      tail = window.slice(-PATTERN_OVERLAP);
    }
  }
  return traits;
}

/**
 * The action of one planned psql step. `statementTimeout` is not in its key: a timeout that fires
 * fails the step (no state is made), one that does not fire leaves the result as it would be.
 */
export function psqlStepAction(
  step: PsqlStep,
  workDir: string,
  stdin: string | undefined,
  statementTimeout?: string,
): StepAction {
  const action: StepAction = {
    kind: "psql",
    summary: psqlInputSummary(step),
    taskHash: step.contentHash,
    async run(context) {
      await runPsqlSeries(context, [{ action, taskId: context.taskId }]);
    },
    runSeries(context, steps) {
      return runPsqlSeries(context, steps);
    },
    async verifyUnchanged() {
      const input = step.input;
      const { contentHash } = input.kind === "file"
        ? await expandPsqlContent({ origin: input.path, workDir })
        : await expandPsqlContent({
          text: input.kind === "command" ? input.sql : stdin ?? "",
          origin: null,
          workDir,
        });
      if (contentHash !== step.contentHash) {
        throw new SqlrsError("conflict", "The step's input files changed while it ran; run prepare again");
      }
    },
  };
  psqlRuns.set(action, { step, stdin, statementTimeout });
  return action;
}

/** Runs psql steps in order, as few psql processes as their content allows (see the module doc). */
async function runPsqlSeries(
  context: Omit<StepContext, "taskId">,
  steps: readonly SeriesStep[],
): Promise<void> {
  let group: Array<{ run: PsqlRun; taskId: string; traits: StepTraits }> = [];
  for (const [index, series] of steps.entries()) {
    const run = psqlRuns.get(series.action);
    if (run === undefined) {
      throw new TypeError(`Cannot run step ${series.taskId} in a psql series: not a psql step`);
    }
    const traits = await stepTraits(run);
    group.push({ run, taskId: series.taskId, traits });
    const alone = run.step.args.includes("--single-transaction") || traits.endsProcess;
    if (alone || index === steps.length - 1) {
      await runPsqlProcess(context, group);
      group = [];
    }
  }
}

/** One psql process over `group`, a `\warn` marker before each step and a session reset between them. */
async function runPsqlProcess(
  { runtime, image, server, reporter, workDir, signal }: Omit<StepContext, "taskId">,
  group: ReadonlyArray<{ run: PsqlRun; taskId: string; traits: StepTraits }>,
): Promise<void> {
  const marker = `sqlrs-step-${crypto.randomUUID()}:`;
  // Every step of a plan has the same shared options; only the last two arguments (`-f X`/`-c SQL`) differ.
  const args = (group[0] as (typeof group)[number]).run.step.args.slice(0, -2);
  let stdin: string | undefined;
  for (const [index, { run, traits }] of group.entries()) {
    if (group.length > 1) args.push("-c", `\\warn ${marker}${index}`);
    args.push(...run.step.args.slice(-2));
    if (run.step.input.kind === "stdin") stdin = run.stdin;
    if (index < group.length - 1) {
      args.push(
        "-c",
        traits.needsReconnect ? "\\connect postgres postgres" : "DISCARD ALL",
      );
    }
  }
  const options: ToolOptions = { cwd: workDir, signal };
  if (stdin !== undefined) options.stdin = stdin;
  const database = toolDatabase(undefined, (group[0] as (typeof group)[number]).run.statementTimeout);
  if (database !== undefined) options.database = database;
  const child = runtime.spawnTool(image, server, "psql", args, options);
  let current = 0;
  const taskId = () => (group[current] as (typeof group)[number]).taskId;
  let stderrTail: string[] = [];
  const [, , code] = await Promise.all([
    readLines(child.stdout, (line) => reporter.log(taskId(), `psql: ${line}`)),
    readLines(child.stderr, (line) => {
      if (line.startsWith(marker)) {
        current = Number(line.slice(marker.length));
        stderrTail = [];
        return;
      }
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
      reporter.log(taskId(), `psql: ${line}`);
    }),
    child.status,
  ]);
  signal.throwIfAborted();
  if (code !== 0) throw stepFailed(taskId(), "psql", code, stderrTail);
}
