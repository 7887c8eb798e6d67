/**
 * Client-side handling of run:psql arguments, shared by the CLI and `mod.ts`: each `-c`/`-f` becomes
 * its own step with file contents sent by the client (a prepare's are the psql kind's,
 * `shared/prepare_kinds/psql.ts`).
 *
 * @module
 */

import { resolve } from "node:path";
import { invalidArgument } from "../shared/errors.ts";
import { renderToken, tokenize } from "../shared/tool_options.ts";
import { fetchFileUrl, isUrlInput } from "../shared/url_input.ts";

/** psql args read as psql reads them: the `-f`/`-c` inputs in order, and the other options. */
function splitInputs(args: readonly string[]): {
  inputs: Array<{ kind: "file" | "command"; value: string }>;
  shared: string[];
} {
  const inputs: Array<{ kind: "file" | "command"; value: string }> = [];
  const shared: string[] = [];
  for (const token of tokenize("psql", args)) {
    const name = token.kind === "option" ? token.option.name : undefined;
    if (token.kind !== "option" || (name !== "file" && name !== "command")) {
      shared.push(...renderToken(token));
      continue;
    }
    if (token.value === null) throw invalidArgument(`psql option ${token.flag} needs a value`);
    inputs.push({ kind: name, value: token.value });
  }
  return { inputs, shared };
}

/** One psql invocation of a run. */
export interface RunStepArgs {
  args: string[];
  stdin?: string;
}

/** A run's `-f` script: a file (relative to `cwd`) or an https URL. */
async function readScript(file: string, cwd: string): Promise<string> {
  if (isUrlInput(file)) return await (await fetchFileUrl(file)).text();
  const path = resolve(cwd, file);
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw invalidArgument(`Cannot read ${path}: ${(error as Error).message}`);
  }
}

/**
 * Splits run:psql args into steps: shared options + one `-c`/`-f` each; a file's content (or an
 * https URL's) is read here and sent as the step's stdin. No `-c`/`-f` means one step (with `stdin` when given).
 *
 * @example Two steps
 * ```ts
 * import { psqlRunSteps } from "./psql_args.ts";
 * const noStdin = () => Promise.resolve(undefined);
 * const steps = await psqlRunSteps(["-A", "-c", "select 1", "-c", "select 2"], "/", noStdin);
 * if (steps.length !== 2 || steps[1]?.args.join(" ") !== "-A -c select 2") throw new Error("unexpected");
 * ```
 */
export async function psqlRunSteps(
  args: readonly string[],
  cwd: string,
  stdin: () => Promise<string | undefined>,
): Promise<RunStepArgs[]> {
  const { inputs, shared } = splitInputs(args);
  if (inputs.length === 0) {
    const content = await stdin();
    return [content === undefined ? { args: shared } : { args: shared, stdin: content }];
  }
  const steps: RunStepArgs[] = [];
  for (const input of inputs) {
    if (input.kind === "command") steps.push({ args: [...shared, "-c", input.value] });
    else if (input.value === "-") steps.push({ args: [...shared, "-f", "-"], stdin: (await stdin()) ?? "" });
    else steps.push({ args: [...shared, "-f", "-"], stdin: await readScript(input.value, cwd) });
  }
  return steps;
}
