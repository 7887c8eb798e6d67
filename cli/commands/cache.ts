/**
 * `cache explain prepare:psql|prepare:lb [--image …] -- <tool args>`: the cache decision per step, and for a
 * miss which input changed compared with the nearest cached state. Creates no job or instance.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../context.ts";
import { SqlrsError } from "../../shared/errors.ts";
import { prepareRequest } from "./prepare.ts";
import { out, printJson, shortId, table } from "../output.ts";

/** `cache`. */
export function cacheCommand(context: () => CliContext) {
  const cache = new Command("cache").description("Inspect the state cache").enablePositionalOptions();
  cache.command("explain")
    .description("Explain which steps of a prepare are cached, and why the others are not")
    .usage("prepare:psql|prepare:lb [--image <image>] [--] [tool args...]")
    .argument("<command>", "prepare:psql or prepare:lb")
    .argument("[tool-args...]", "psql or Liquibase arguments, as for the prepare")
    .option("--image <image>", "PostgreSQL build")
    .passThroughOptions()
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (command, args, flags) => {
      const toolArgs = args[0] === "--" ? args.slice(1) : args;
      const kind = command === "prepare:psql" ? "psql" : command === "prepare:lb" ? "lb" : undefined;
      if (kind === undefined) {
        throw new SqlrsError(
          "invalid_argument",
          `cache explain supports prepare:psql and prepare:lb, not "${command}"`,
        );
      }
      const request = await prepareRequest({ kind, args: toolArgs, cwd: Deno.cwd() }, flags, false);
      const explained = await (await context().client()).explainPrepare(request);
      if (context().json) {
        printJson(explained);
        return;
      }
      out(`decision: ${explained.decision} (final state ${explained.final_state_id})`);
      out(table(
        ["TASK_ID", "DECISION", "OUTPUT_STATE", "INPUT", "REASON"],
        explained.steps.map((
          step,
        ) => [step.task_id, step.decision, shortId(step.output_state_id), step.input, step.reason]),
      ));
    });
  return cache;
}
