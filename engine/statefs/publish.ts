/**
 * How a state or base gets its final name, shared by every backend: it is built under a temporary
 * name (a `.tmp-*` sibling, see {@link tempSibling}, or a job's build area) and renamed into place,
 * so a path that exists is complete and a crash leaves only what `recover` removes.
 *
 * @module
 */

import { dirname } from "node:path";
import { ensureParent, fsyncDirectory, refuseExisting, tempSibling } from "./copy.ts";

export { tempSibling };

/**
 * Renames `building` to `path` (which must not exist) and makes the rename durable. Both are on the
 * store's filesystem, so the rename is atomic; on btrfs a subvolume is renamed like a directory.
 *
 * @throws {SqlrsError} `conflict` when `path` exists
 */
export async function renameIntoPlace(building: string, path: string): Promise<void> {
  await ensureParent(path);
  // rename(2) would silently replace an empty directory at `path`.
  await refuseExisting(path, "publish");
  await Deno.rename(building, path);
  await fsyncDirectory(dirname(path));
}
