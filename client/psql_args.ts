/**
 * Client-side handling of psql arguments, shared by the CLI and `mod.ts`: `-f FILE` paths are made
 * absolute against the caller's directory (the engine may run elsewhere), `-f -` asks for the caller's
 * stdin, and for runs each `-c`/`-f` becomes its own step with file contents sent by the client.
 *
 * @module
 */

import { resolve } from "node:path";
import { invalidArgument } from "../shared/errors.ts";

/** A `-f`/`-c` occurrence in psql args, in any spelling. */
interface InputArg {
  kind: "file" | "command";
  value: string;
  /** Index of the first and one past the last arg it spans. */
  start: number;
  end: number;
}

function findInputs(args: readonly string[]): InputArg[] {
  const inputs: InputArg[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const long = /^--(file|command)(?:=(.*))?$/s.exec(arg);
    if (long !== null) {
      const kind = long[1] === "file" ? "file" : "command";
      if (long[2] !== undefined) inputs.push({ kind, value: long[2], start: i, end: i + 1 });
      else {
        if (i + 1 >= args.length) throw invalidArgument(`psql option ${arg} needs a value`);
        inputs.push({ kind, value: args[i + 1] as string, start: i, end: i + 2 });
        i++;
      }
      continue;
    }
    const short = /^-([fc])(.*)$/s.exec(arg);
    if (short !== null) {
      const kind = short[1] === "f" ? "file" : "command";
      if (short[2] !== "") inputs.push({ kind, value: short[2] as string, start: i, end: i + 1 });
      else {
        if (i + 1 >= args.length) throw invalidArgument(`psql option ${arg} needs a value`);
        inputs.push({ kind, value: args[i + 1] as string, start: i, end: i + 2 });
        i++;
      }
      continue;
    }
    // Values of other options that take one must not be read as -f/-c.
    if (
      /^(-[vFLoPRT]|--(set|variable|field-separator|log-file|output|pset|record-separator|table-attr))$/.test(
        arg,
      )
    ) i++;
  }
  return inputs;
}

/**
 * Makes `-f FILE` paths absolute; says whether `-f -` asks for stdin.
 *
 * @example Resolve a relative script
 * ```ts
 * import { absolutizePsqlFiles } from "./psql_args.ts";
 * const { args, readsStdin } = absolutizePsqlFiles(["-q", "-f", "schema.sql"], "/work");
 * if (args.join(" ") !== "-q -f /work/schema.sql" || readsStdin) throw new Error("unexpected");
 * ```
 */
export function absolutizePsqlFiles(
  args: readonly string[],
  cwd: string,
): { args: string[]; readsStdin: boolean } {
  const result = [...args];
  let readsStdin = false;
  for (const input of findInputs(args).reverse()) {
    if (input.kind !== "file") continue;
    if (input.value === "-") {
      readsStdin = true;
      continue;
    }
    result.splice(input.start, input.end - input.start, "-f", resolve(cwd, input.value));
  }
  return { args: result, readsStdin };
}

/** One psql invocation of a run. */
export interface RunStepArgs {
  args: string[];
  stdin?: string;
}

/**
 * Splits run:psql args into steps: shared options + one `-c`/`-f` each; a file's content is read
 * here and sent as the step's stdin. No `-c`/`-f` means one step (with `stdin` when given).
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
  const inputs = findInputs(args);
  const shared = args.filter((_, index) =>
    !inputs.some((input) => index >= input.start && index < input.end)
  );
  if (inputs.length === 0) {
    const content = await stdin();
    return [content === undefined ? { args: shared } : { args: shared, stdin: content }];
  }
  const steps: RunStepArgs[] = [];
  for (const input of inputs) {
    if (input.kind === "command") steps.push({ args: [...shared, "-c", input.value] });
    else if (input.value === "-") steps.push({ args: [...shared, "-f", "-"], stdin: (await stdin()) ?? "" });
    else {
      const path = resolve(cwd, input.value);
      let content: string;
      try {
        content = await Deno.readTextFile(path);
      } catch (error) {
        throw invalidArgument(`Cannot read ${path}: ${(error as Error).message}`);
      }
      steps.push({ args: [...shared, "-f", "-"], stdin: content });
    }
  }
  return steps;
}
