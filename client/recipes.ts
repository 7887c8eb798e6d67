/**
 * Named recipes kept in a workspace's `.sqlrs/config.yaml`, so a prepare is one word:
 *
 * ```yaml
 * recipes:
 *   dev:
 *     kind: psql                 # or lb
 *     args: [-f, db/schema.sql, -f, db/seed.sql]
 *     image: host:16             # optional, as --image
 *     name: dev                  # optional, as --name (the instance's name)
 *     deadline: 10m              # optional, as --deadline
 *     statementTimeout: 30s      # optional, as --statement-timeout
 *     pool: 2                    # optional: warm instances the engine keeps of its state
 * ```
 *
 * Paths in `args` are relative to the workspace root (the directory holding `.sqlrs/`), wherever
 * the command runs.
 *
 * @module
 */

import { PREPARE_KINDS, type PrepareKindName } from "../shared/prepare_kinds.ts";
import { dirname } from "node:path";
import { z } from "../shared/deps.ts";
import { invalidArgument, SqlrsError } from "../shared/errors.ts";
import { Duration } from "../shared/schemas.ts";
import { findWorkspaceConfig, readYaml } from "./config.ts";

/** One recipe, with the workspace root its paths are relative to. */
export interface Recipe {
  name: string;
  kind: PrepareKindName;
  args: string[];
  image?: string | undefined;
  /** The instance's name (`--name`). */
  instanceName?: string | undefined;
  deadline?: string | undefined;
  statementTimeout?: string | undefined;
  /** Warm instances of the recipe's state the engine keeps (its pool), instead of the engine config's. */
  pool?: number | undefined;
  /** The workspace root: relative paths in `args` start here. */
  root: string;
}

const RecipeSchema = z.strictObject({
  kind: z.enum(PREPARE_KINDS),
  args: z.array(z.string()),
  image: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  deadline: Duration.optional(),
  statementTimeout: Duration.optional(),
  pool: z.number().int().min(0).max(64).optional(),
});

/** A recipe's name: it must not read as a command or an option. */
const RECIPE_NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/**
 * The recipes of the workspace at or above `cwd`, by name (empty without a workspace or recipes).
 * @throws {SqlrsError} `invalid_argument` naming the config file and the recipe when one is malformed
 */
export async function loadRecipes(cwd: string): Promise<Map<string, Recipe>> {
  const recipes = new Map<string, Recipe>();
  const path = await findWorkspaceConfig(cwd);
  if (path === undefined) return recipes;
  const section = (await readYaml(path))?.recipes;
  if (section === undefined || section === null) return recipes;
  if (typeof section !== "object" || Array.isArray(section)) {
    throw invalidArgument(`Invalid recipes in ${path}: expected a mapping of names to recipes`);
  }
  const root = dirname(dirname(path));
  for (const [name, value] of Object.entries(section)) {
    if (!RECIPE_NAME.test(name)) {
      throw invalidArgument(
        `Invalid recipe name "${name}" in ${path}: start with a letter; letters, digits, _ . -`,
      );
    }
    const parsed = RecipeSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
      throw invalidArgument(`Invalid recipe "${name}" in ${path}: ${where}${issue?.message ?? "malformed"}`);
    }
    const { kind, args, image, name: instanceName, deadline, statementTimeout, pool } = parsed.data;
    recipes.set(name, { name, kind, args, image, instanceName, deadline, statementTimeout, pool, root });
  }
  return recipes;
}

/**
 * The recipe `name` of the workspace at or above `cwd`.
 * @throws {SqlrsError} `not_found` listing the recipes there are
 */
export async function findRecipe(name: string, cwd: string): Promise<Recipe> {
  const recipes = await loadRecipes(cwd);
  const recipe = recipes.get(name);
  if (recipe !== undefined) return recipe;
  const known = [...recipes.keys()];
  const hint = known.length === 0
    ? "no workspace recipes here (add them under recipes: in .sqlrs/config.yaml)"
    : `recipes here: ${known.join(", ")}`;
  throw new SqlrsError("not_found", `Unknown recipe "${name}": ${hint}`);
}
