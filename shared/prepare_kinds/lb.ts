/**
 * The Liquibase prepare kind (`prepare:lb`) outside the engine: its CLI text, its request, and the
 * client's side of it: the args go as they are (the engine resolves their paths against `work_dir`),
 * and an upload sends everything the changelogs may read (`lb_files.ts`). The engine's side is
 * `engine/prepare/liquibase/`.
 *
 * @module
 */

import { z } from "../deps.ts";
import { typed } from "../schemas/_typed.ts";
import { CommonRequestFields, ImageId, type PrepareRequestCommon } from "../schemas/prepare_request.ts";
import type { PrepareKindSpec } from "./kind.ts";
import { liquibaseFiles } from "./lb_files.ts";

const LiquibaseRequestSchema = z.strictObject({
  prepare_kind: z.literal("lb"),
  image_id: ImageId.optional(),
  liquibase_args: z.array(z.string()),
  ...CommonRequestFields,
});

/**
 * `POST /v1/prepare-jobs` for Liquibase: `liquibase_args` are the `update` command and its options
 * (changelog, search path, contexts, labels); relative paths resolve against `work_dir`.
 */
export interface PrepareJobRequestLiquibase extends PrepareRequestCommon {
  prepare_kind: "lb";
  liquibase_args: string[];
}
/** `POST /v1/prepare-jobs` for Liquibase. */
export const PrepareJobRequestLiquibase: z.ZodType<PrepareJobRequestLiquibase> = typed<
  PrepareJobRequestLiquibase
>()(LiquibaseRequestSchema);

/** The Liquibase options that take a value, for the CLI's composite splitter. */
const VALUE_FLAGS = new Set([
  "--changelog-file",
  "--defaults-file",
  "--searchPath",
  "--search-path",
]);

/** `prepare:lb`. */
export const liquibaseSpec: PrepareKindSpec<PrepareJobRequestLiquibase, "liquibase"> = {
  name: "lb",
  info: {
    tool: "liquibase",
    argsHelp: "update --changelog-file FILE [--search-path …] [--contexts …] [--labels …] [--classpath …]",
    prepareDescription:
      "Build (or reuse) a state from a Liquibase changelog, one state per changeset, and start an instance",
    planDescription: "Show the pending Liquibase changesets as steps and which are cached",
    prepareHelp: `
Each pending changeset is a step with its own cached state. Prints DSN=postgres://... of the new
instance on stdout; a run stage can follow (run:psql -- ...), as for prepare:psql.`,
    takesValue: (token) => VALUE_FLAGS.has(token),
  },
  libraryOption: "liquibase",
  schema: LiquibaseRequestSchema,
  args: (request) => request.liquibase_args,
  request: (args, caller) =>
    Promise.resolve({ prepare_kind: "lb", liquibase_args: [...args], work_dir: caller.cwd }),
  uploadFiles: (request) => liquibaseFiles(request.liquibase_args, request.work_dir),
};
