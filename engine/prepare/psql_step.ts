/**
 * A psql step: runs psql with the step's input (a file, stdin or `-c`) against the server, with
 * `-X -v ON_ERROR_STOP=1` enforced, and afterwards re-hashes the inputs so that a state is never
 * published under a key its content no longer matches.
 *
 * @module
 */

import { SqlrsError } from "../../shared/errors.ts";
import { expandPsqlContent } from "./psql_includes.ts";
import type { PsqlStep } from "./psql_args.ts";
import { argsSummary } from "./summary.ts";
import { type StepAction, stepFailed } from "./step_action.ts";
import { readLines } from "../exec.ts";

/** `-f /abs/file.sql`, `-f -` or `-c '…'`. */
export function psqlInputSummary(step: PsqlStep): string {
  const input = step.input;
  if (input.kind === "file") return argsSummary(["-f", input.path]);
  if (input.kind === "command") return argsSummary(["-c", input.sql]);
  return "-f -";
}

/** The action of one planned psql step. */
export function psqlStepAction(step: PsqlStep, workDir: string, stdin: string | undefined): StepAction {
  return {
    kind: "psql",
    summary: psqlInputSummary(step),
    taskHash: step.contentHash,
    async run({ runtime, image, server, reporter, taskId, signal }) {
      const input = step.input.kind === "stdin" ? stdin : undefined;
      const options = input === undefined ? { cwd: workDir, signal } : { cwd: workDir, signal, stdin: input };
      const child = runtime.spawnTool(image, server, "psql", step.args, options);
      const stderrTail: string[] = [];
      const [, , code] = await Promise.all([
        readLines(child.stdout, (line) => reporter.log(taskId, `psql: ${line}`)),
        readLines(child.stderr, (line) => reporter.log(taskId, `psql: ${line}`), stderrTail),
        child.status,
      ]);
      signal.throwIfAborted();
      if (code !== 0) throw stepFailed(taskId, "psql", code, stderrTail);
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
}
