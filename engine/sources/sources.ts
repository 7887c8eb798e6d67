/**
 * The engine's uploaded sources under `<store>/sources/`: blobs, manifests and trees, and their sweep.
 *
 * @module
 */

import { join } from "node:path";
import { BlobStore } from "./blob_store.ts";
import { SourceTrees } from "./source_trees.ts";
import { sweepSources } from "./source_sweep.ts";

/** How often the engine's periodic sweep also sweeps the sources. */
const SWEEP_EVERY_MS = 10 * 60 * 1000;

/** The uploaded sources of a store. */
export interface Sources {
  trees: SourceTrees;
  blobs: BlobStore;
  /** Sweeps unused uploads (at most every ten minutes; the first call sweeps). */
  sweep(): Promise<void>;
}

/** The sources under `storeRoot`; `inUse` says which trees unfinished jobs read. */
export function sourcesUnder(storeRoot: string, inUse: () => ReadonlySet<string>): Sources {
  const dir = join(storeRoot, "sources");
  const blobs = new BlobStore(dir);
  let last = -Infinity;
  return {
    trees: new SourceTrees(dir, blobs),
    blobs,
    async sweep() {
      if (Date.now() - last < SWEEP_EVERY_MS) return;
      last = Date.now();
      await sweepSources(dir, inUse());
    },
  };
}
