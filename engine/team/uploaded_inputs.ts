/**
 * A team engine's prepares read only what their clients uploaded: the request moved into its source
 * tree (as the engine's own API will move it), with the tree as the only place its files may be.
 *
 * @module
 */

import { SqlrsError } from "../../shared/errors.ts";
import { requestInTree } from "../sources/source_prepare.ts";
import type { SourceTrees } from "../sources/source_trees.ts";
import type { RequestSources } from "./team_app.ts";

/** The request in its uploaded tree; a request that uploaded nothing may read no file. */
export function uploadedInputs(trees: SourceTrees): RequestSources {
  return {
    async inputs(request) {
      if (request.source_id === undefined) return { request, root: null };
      const tree = await trees.materialize(request.source_id);
      return { request: requestInTree(request, tree), root: tree.root };
    },
  };
}

/**
 * Whether `error` is about a file of the tree at `root` that does not exist yet: one the client has
 * not uploaded, which the engine's API turns into `source_inputs_missing`.
 */
export async function missingFromTree(error: unknown, root: string | null): Promise<boolean> {
  if (root === null || !(error instanceof SqlrsError)) return false;
  const path = error.details?.path;
  if (typeof path !== "string" || !path.startsWith(`${root}/`)) return false;
  try {
    await Deno.lstat(path);
    return false;
  } catch (error) {
    return error instanceof Deno.errors.NotFound;
  }
}
