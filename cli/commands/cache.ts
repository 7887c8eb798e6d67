/**
 * `cache explain prepare:psql|prepare:lb [--image …] -- <tool args>`: the cache decision per step, and for a
 * miss which input changed compared with the nearest cached state. Creates no job or instance.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../context.ts";
import { invalidArgument } from "../../shared/errors.ts";
import { prepareRequest } from "./prepare.ts";
import { out, outputWidth, printJson, shortId, table } from "../output.ts";
import { findRecipe } from "../../client/recipes.ts";

/** The request `cache explain` asks about: a prepare's tool args, or a recipe's. */
async function explainedRequest(command: string, toolArgs: string[], image: string | undefined) {
  const kind = command === "prepare:psql" ? "psql" : command === "prepare:lb" ? "lb" : undefined;
  if (kind !== undefined) {
    return await prepareRequest({ kind, args: toolArgs, cwd: Deno.cwd() }, { image }, false);
  }
  if (command.includes(":")) {
    throw invalidArgument(
      `cache explain supports prepare:psql and prepare:lb (or a recipe), not "${command}"`,
    );
  }
  const recipe = await findRecipe(command, Deno.cwd());
  return await prepareRequest(
    { kind: recipe.kind, args: recipe.args, cwd: recipe.root },
    { image: image ?? recipe.image },
    false,
  );
}

/** `cache`. */
export function cacheCommand(context: () => CliContext) {
  const cache = new Command("cache").description("Inspect the state cache").enablePositionalOptions();
  cache.command("explain")
    .description("Explain which steps of a prepare are cached, and why the others are not")
    .usage("[--all] prepare:psql|prepare:lb|<recipe> [--image <image>] [--] [tool args...]")
    .argument("<command>", "prepare:psql, prepare:lb, or a workspace recipe's name")
    .argument("[tool-args...]", "psql or Liquibase arguments, as for the prepare")
    .option("--image <image>", "PostgreSQL build")
    .option("--all", "list the cached steps too (default: the misses and a count of hits)")
    .passThroughOptions()
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (command, args, flags) => {
      const toolArgs = args[0] === "--" ? args.slice(1) : args;
      const request = await explainedRequest(command, toolArgs, flags.image);
      const explained = await (await context().client()).explainPrepare(request);
      if (context().json) {
        printJson(explained);
        return;
      }
      out(`decision: ${explained.decision} (final state ${explained.final_state_id})`);
      const hits = explained.steps.filter((step) => step.decision === "hit").length;
      const shown = flags.all === true
        ? explained.steps
        : explained.steps.filter((step) => step.decision === "miss");
      const hidden = flags.all === true || hits === 0 ? "" : " (not listed; --all lists them)";
      out(`${hits} of ${explained.steps.length} steps cached${hidden}`);
      if (shown.length === 0) return;
      out(table(
        ["TASK_ID", "DECISION", "OUTPUT_STATE", "REASON", "INPUT"],
        shown.map((
          step,
        ) => [step.task_id, step.decision, shortId(step.output_state_id), step.reason, step.input]),
        { maxWidth: outputWidth() },
      ));
    });
  return cache;
}
