/**
 * How a snapshot backend hands over a {@link Volume}. Only backends (`engine/statefs/`) call it: the
 * rest of the engine gets volumes from a `StateFS`.
 *
 * @module
 */

import type { Volume } from "./types.ts";

/** The volume whose data directory is `path`; for StateFS backends only. */
export function handOver(path: string): Volume {
  return { path } as Volume;
}

/** `StateFS.reattach` of a backend whose clones need nothing to be used again: the path itself. */
export function reattachPath(dataDir: string): Promise<Volume> {
  return Promise.resolve(handOver(dataDir));
}
