/**
 * `cache explain prepare:<kind> [--image …] -- <tool args>`: the cache decision per step, and for a
 * miss which input changed compared with the nearest cached state. Creates no job or instance.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../context.ts";
import { invalidArgument } from "../../shared/errors.ts";
import { isPrepareKindName, PREPARE_COMMANDS } from "../../shared/prepare_kinds.ts";
import { prepareRequest } from "./prepare.ts";
import { out, outputWidth, printJson, shortId, table } from "../output.ts";
import { findRecipe } from "../../client/recipes.ts";

/** The request `cache explain` asks about: a prepare's tool args, or a recipe's. */
async function explainedRequest(command: string, toolArgs: string[], image: string | undefined) {
  const kind = command.startsWith("prepare:") ? command.slice("prepare:".length) : undefined;
  if (isPrepareKindName(kind)) {
    return await prepareRequest({ kind, args: toolArgs, cwd: Deno.cwd() }, { image }, false);
  }
  if (command.includes(":")) {
    const kinds = PREPARE_COMMANDS;
    throw invalidArgument(
      `cache explain supports ${kinds.slice(0, -1).join(", ")} and ${
        kinds.at(-1)
      } (or a recipe), not "${command}"`,
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
    .usage(`[--all] ${PREPARE_COMMANDS.join("|")}|<recipe> [--image <image>] [--] [tool args...]`)
    .argument("<command>", `${PREPARE_COMMANDS.join(", ")}, or a workspace recipe's name`)
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
