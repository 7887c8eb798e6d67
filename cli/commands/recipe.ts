/**
 * `prepare <recipe>` and `plan <recipe>`: a prepare (or its plan) from a named recipe of the
 * workspace's `.sqlrs/config.yaml` (see client/recipes.ts). Flags given here win over the recipe's.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { findRecipe } from "../../client/recipes.ts";
import type { CliContext } from "../context.ts";
import {
  addPrepareOptions,
  executePrepare,
  type PrepareCommandFlags,
  prepareRequest,
  type RunStage,
} from "./prepare.ts";

type Context = () => CliContext;

const HELP = `
A recipe is kept in the workspace's .sqlrs/config.yaml; paths in its args are relative to the
workspace root, wherever you run this:
  recipes:
    dev:
      kind: psql            # or lb
      args: [-f, db/schema.sql, -f, db/seed.sql]
      image: host           # optional, as --image
      name: dev             # optional, as --name
List them with "sqlrs ls --recipes".`;

function recipeCommand(name: "prepare" | "plan", context: Context, runStage?: RunStage) {
  const planOnly = name === "plan";
  const command = new Command(name)
    .description(
      planOnly
        ? "Show the steps of a workspace recipe and which are cached"
        : "Prepare a workspace recipe: build (or reuse) its state and start an instance",
    )
    .usage(`[flags] <recipe>${planOnly ? "" : " [run:psql|run:pgbench [flags] -- [tool args...]]"}`)
    .argument("<recipe>", 'a recipe of .sqlrs/config.yaml (see "sqlrs ls --recipes")')
    .addHelpText("after", HELP);
  addPrepareOptions(command, planOnly);
  return command.action(async (recipeName, flags) => {
    const recipe = await findRecipe(recipeName, Deno.cwd());
    const given = flags as PrepareCommandFlags;
    const options: PrepareCommandFlags = {
      ...given,
      image: given.image ?? recipe.image,
      deadline: given.deadline ?? recipe.deadline,
      ...(planOnly ? {} : {
        name: given.name ?? recipe.instanceName,
        statementTimeout: given.statementTimeout ?? recipe.statementTimeout,
      }),
    };
    const request = await prepareRequest(
      { kind: recipe.kind, args: recipe.args, cwd: recipe.root },
      options,
      planOnly,
    );
    if (!planOnly && recipe.pool !== undefined) request.pool_size = recipe.pool;
    await executePrepare(context(), request, options, runStage);
  });
}

/** `prepare <recipe>`. */
export function prepareRecipeCommand(context: Context, runStage?: RunStage) {
  return recipeCommand("prepare", context, runStage);
}

/** `plan <recipe>`. */
export function planRecipeCommand(context: Context) {
  return recipeCommand("plan", context);
}
