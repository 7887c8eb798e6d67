/**
 * Liquibase plans kept on disk under a key that covers everything the plan depends on (see
 * `planLiquibasePrepare`), so that a warm `prepare:lb` starts no Java. A file is written under a
 * temporary name and renamed, so a reader sees a whole plan or none; an unreadable one is a miss.
 * Only the {@link KEPT_PLANS} most recently written plans are kept.
 *
 * @module
 */

import { join } from "node:path";

/**
 * What planning learnt: `update-sql`'s output, the changelog files Liquibase parsed and the files of
 * each changeset's `sqlFile` changes (by `path::id::author`; absent in plans cached before).
 */
export interface CachedPlan {
  output: string;
  changelogs: string[];
  sqlFiles: Record<string, string[]>;
}

/** How many plans are kept: one per project, args and version in use is plenty. */
export const KEPT_PLANS = 64;

/** The cached plan under `key`, or null. */
export async function readCachedPlan(dir: string, key: string): Promise<CachedPlan | null> {
  try {
    const value = JSON.parse(await Deno.readTextFile(join(dir, `${key}.json`)));
    if (typeof value?.output !== "string" || !Array.isArray(value?.changelogs)) return null;
    const sqlFiles = typeof value.sqlFiles === "object" && value.sqlFiles !== null ? value.sqlFiles : {};
    return { output: value.output, changelogs: value.changelogs.map(String), sqlFiles };
  } catch {
    return null;
  }
}

/** Stores `plan` under `key`. */
export async function writeCachedPlan(dir: string, key: string, plan: CachedPlan): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, `${key}.json`);
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(temporary, JSON.stringify(plan));
  await Deno.rename(temporary, path);
  await pruneOldest(dir);
}

async function pruneOldest(dir: string): Promise<void> {
  const plans: Array<{ path: string; mtime: number }> = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".json")) continue;
    const path = join(dir, entry.name);
    const info = await Deno.stat(path).catch(() => null);
    if (info !== null) plans.push({ path, mtime: info.mtime?.getTime() ?? 0 });
  }
  plans.sort((a, b) => b.mtime - a.mtime);
  for (const old of plans.slice(KEPT_PLANS)) await Deno.remove(old.path).catch(() => {});
}
