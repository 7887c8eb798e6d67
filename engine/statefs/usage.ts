/**
 * How full the filesystem that holds the store is, as `df` sees it: what the state cache's limit and
 * reserve are measured against (see `cache/capacity.ts`).
 *
 * @module
 */

import type { Exec } from "../exec.ts";
import { existingAncestor } from "./copy.ts";
import type { FilesystemUsage } from "./types.ts";

/** The size of the filesystem that holds `path` (or would hold it) and the bytes free on it. */
export async function filesystemUsage(exec: Exec, path: string): Promise<FilesystemUsage> {
  const out = await exec.runOk(["df", "-B1", "--output=size,avail", await existingAncestor(path)]);
  const [total, free] = (out.trim().split("\n")[1] ?? "").trim().split(/\s+/).map(Number);
  return { totalBytes: total ?? 0, freeBytes: free ?? 0 };
}
