/**
 * A team engine's prepares read only what their clients uploaded: the request moved into its source
 * tree (as the engine's own API will move it), with the tree as the only place its files may be.
 *
 * @module
 */

import { notUploaded, requestInTree } from "../sources/source_prepare.ts";
import type { SourceTrees } from "../sources/source_trees.ts";
import type { RequestSources } from "./team_app.ts";

/** The request in its uploaded tree; a request that uploaded nothing may read no file. */
export function uploadedInputs(trees: SourceTrees): RequestSources {
  return {
    async inputs(request) {
      if (request.source_id === undefined) return { request, root: null, missing: () => false };
      const tree = await trees.materialize(request.source_id);
      return {
        request: await requestInTree(request, tree),
        root: tree.root,
        // The engine's API answers such a file with `source_inputs_missing` (see submitWithSource).
        missing: (error) => notUploaded(error, tree) !== null,
      };
    },
  };
}
