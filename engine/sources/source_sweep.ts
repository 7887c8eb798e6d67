/**
 * Forgets uploads nobody uses: a tree or manifest that no unfinished job reads and that was not used
 * for `idleMs`, a partial upload left that long, and a blob no remaining manifest lists (registering
 * a manifest touches its blobs, so a blob about to be used is never old).
 *
 * @module
 */

import { join } from "node:path";

/** How long an unused upload is kept: a day, so that a paused upload or a rerun tomorrow still finds it. */
export const SOURCE_IDLE_MS = 24 * 60 * 60 * 1000;

const TREE_ID = /sources\/trees\/([0-9a-f]{64})(?=\/|$)/;

/** The tree a job's `work_dir` is in, if any. */
export function treeIdOf(workDir: string): string | undefined {
  return TREE_ID.exec(workDir)?.[1];
}

async function entries(dir: string): Promise<Array<{ name: string; path: string; mtime: number }>> {
  const found = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      const info = await Deno.lstat(path).catch(() => undefined);
      if (info !== undefined) found.push({ name: entry.name, path, mtime: info.mtime?.getTime() ?? 0 });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found;
}

/**
 * Sweeps `sourcesDir` once; `inUse` holds the ids of the trees unfinished jobs read. Returns how many
 * trees, manifests, blobs and partial uploads it removed.
 */
export async function sweepSources(
  sourcesDir: string,
  inUse: ReadonlySet<string>,
  options: { idleMs?: number; now?: number } = {},
): Promise<number> {
  const before = (options.now ?? Date.now()) - (options.idleMs ?? SOURCE_IDLE_MS);
  const old = (entry: { mtime: number }) => entry.mtime < before;
  const idOf = (name: string) => name.slice(0, 64);
  let removed = 0;
  const remove = async (path: string) => {
    await Deno.remove(path, { recursive: true });
    removed++;
  };
  for (const entry of await entries(join(sourcesDir, "trees"))) {
    if (old(entry) && !inUse.has(idOf(entry.name))) await remove(entry.path);
  }
  const listed = new Set<string>();
  for (const entry of await entries(join(sourcesDir, "manifests"))) {
    if (old(entry) && !inUse.has(idOf(entry.name))) await remove(entry.path);
    else if (entry.name.endsWith(".json")) {
      const files: Record<string, string | null> = JSON.parse(await Deno.readTextFile(entry.path));
      for (const hash of Object.values(files)) if (hash !== null) listed.add(hash);
    }
  }
  for (const entry of await entries(join(sourcesDir, "blobs"))) {
    if (old(entry) && !listed.has(entry.name)) await remove(entry.path);
  }
  for (const entry of await entries(join(sourcesDir, "partial"))) {
    if (old(entry)) await remove(entry.path);
  }
  return removed;
}
