/**
 * The engine's uploaded sources under `<store>/sources/`: blobs, manifests and trees.
 *
 * @module
 */

import { join } from "node:path";
import { BlobStore } from "./blob_store.ts";
import { SourceTrees } from "./source_trees.ts";

/** The blob store and the trees of a store. */
export function sourcesUnder(storeRoot: string): { trees: SourceTrees; blobs: BlobStore } {
  const dir = join(storeRoot, "sources");
  const blobs = new BlobStore(dir);
  return { trees: new SourceTrees(dir, blobs), blobs };
}
