/**
 * How paths in an uploaded source tree read as the client's again. The engine materializes an upload
 * at `<store>/sources/trees/<source_id>/<client path>` (`engine/sources/source_trees.ts`), so step
 * labels and psql's messages about a job run there name the engine's copies; the CLI shows the
 * client's paths instead.
 *
 * @module
 */

/** An absolute path up to and including the tree's directory, followed by the client's path. */
const TREE_PREFIX = /(?:\/[^\s'"]*)?\/sources\/trees\/[0-9a-f]{64}(?=\/)/g;

/**
 * `text` with each path inside a source tree replaced by the client's path it is a copy of.
 *
 * @example
 * ```ts
 * import { clientPaths } from "./source_tree_path.ts";
 * const engine = `psql:/var/lib/sqlrs/store/sources/trees/${"a".repeat(64)}/home/me/b.sql:2: ERROR`;
 * if (clientPaths(engine) !== "psql:/home/me/b.sql:2: ERROR") throw new Error(clientPaths(engine));
 * ```
 */
export function clientPaths(text: string): string {
  return text.replace(TREE_PREFIX, "");
}
