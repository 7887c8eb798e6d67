/**
 * What a Liquibase prepare reads, and digests of it.
 *
 * Two lists, each with one job:
 * - the changelog files Liquibase parsed (its FINE `Matched file '…' to parser` lines while planning),
 *   plus the regular files the args name and the `--classpath` content, and for each changeset the
 *   files its `sqlFile` changes read ({@link sqlFilesByChangeset}): recorded per state for
 *   `cache explain`, and hashed again after a step to see that nothing changed while it ran;
 * - every regular file under the search roots and the classpath ({@link treeDigest}): what a cached
 *   plan is keyed under, because a plan also depends on files no log line names (a new file in an
 *   `includeAll` directory, the SQL of a `sqlFile`, the CSV of a `loadData`). When in doubt, key it.
 *
 * @module
 */

import { dirname, isAbsolute, join, resolve } from "node:path";
import { hashRecords, toHex } from "../fingerprint.ts";

const MATCHED = /\bMatched file '(.+)' to parser '/;

function regularFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * The local changelog files a FINE-level Liquibase run parsed, as absolute paths, in the order
 * parsed. A name is resolved against `roots` (the search path, else the work dir) like Liquibase
 * does; one found in none (inside a classpath jar) is left out: the classpath is keyed by content.
 */
export function parsedChangelogs(stderr: string, roots: readonly string[]): string[] {
  const found = new Set<string>();
  for (const line of stderr.split(/\r?\n/)) {
    const name = MATCHED.exec(line)?.[1];
    if (name === undefined) continue;
    const candidates = isAbsolute(name) ? [name] : roots.map((root) => resolve(root, name));
    const path = candidates.find(regularFile);
    if (path !== undefined) found.add(path);
  }
  return [...found];
}

/**
 * The files each changeset's `sqlFile` changes read, by `path::id::author`, from a FINE-level
 * `update-sql`'s log: a `SQL in file <path> executed` line follows the changeset's `Running Changeset`
 * line. The path is as written in the changelog: it is looked up beside the changelog (for
 * `relativeToChangelogFile`) and in `roots`; one found in neither (inside a jar) is left out.
 */
export function sqlFilesByChangeset(stderr: string, roots: readonly string[]): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  let current: string | undefined;
  for (const line of stderr.split(/\r?\n/)) {
    const running = /\bRunning Changeset: (.+)$/.exec(line)?.[1];
    if (running !== undefined) current = running;
    const name = /\bSQL in file (.+) executed$/.exec(line)?.[1];
    if (name === undefined || current === undefined) continue;
    const changelog = current.split("::")[0] as string;
    const dirs = [...roots.map((root) => dirname(resolve(root, changelog))), ...roots];
    const path = (isAbsolute(name) ? [name] : dirs.map((dir) => resolve(dir, name))).find(regularFile);
    if (path !== undefined && !(found[current] ?? []).includes(path)) (found[current] ??= []).push(path);
  }
  return found;
}

async function sha256(path: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", await Deno.readFile(path)));
}

/** One hash over `paths` and their contents (a missing or unreadable file hashes as such). */
export async function hashFiles(paths: readonly string[]): Promise<string> {
  const records: Array<[string, string]> = [];
  for (const path of paths) {
    try {
      records.push([path, await sha256(path)]);
    } catch {
      records.push([path, "unreadable"]);
    }
  }
  return await hashRecords(records);
}

/** Beyond this many files, or bytes, a tree is not digested: a warm plan is not worth reading a whole disk. */
export const TREE_FILE_LIMIT = 20_000;
export const TREE_BYTE_LIMIT = 512 * 1024 * 1024;

/** Content hashes of files seen before, valid while size, mtime, ctime and inode stay the same. */
const digestCache = new Map<string, { stamp: string; hash: string }>();

async function cachedSha256(path: string, info: Deno.FileInfo): Promise<string> {
  const stamp = `${info.size}:${info.mtime?.getTime()}:${info.ctime?.getTime()}:${info.ino}`;
  const known = digestCache.get(path);
  if (known?.stamp === stamp) return known.hash;
  const hash = await sha256(path);
  digestCache.set(path, { stamp, hash });
  return hash;
}

/**
 * One hash over every regular file under `paths` (directories walked recursively, `.git` and `skip`
 * (absolute directories) left out;
 * files taken as they are), by path and content; null when there are more than
 * {@link TREE_FILE_LIMIT} files or {@link TREE_BYTE_LIMIT} bytes. Unchanged files are not read again
 * (a stat decides).
 */
export async function treeDigest(
  paths: readonly string[],
  skip: readonly string[] = [],
): Promise<string | null> {
  const skipped = new Set(skip.map((dir) => resolve(dir)));
  const records: Array<[string, string]> = [];
  const pending = [...new Set(paths)].sort().reverse();
  const seen = new Set<string>();
  let bytes = 0;
  while (pending.length > 0) {
    const path = pending.pop() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch {
      records.push([path, "missing"]);
      continue;
    }
    if (info.isDirectory) {
      const names: string[] = [];
      for await (const entry of Deno.readDir(path)) {
        if (entry.name !== ".git" && !skipped.has(join(path, entry.name))) names.push(entry.name);
      }
      records.push([path, "directory"]);
      pending.push(...names.sort().reverse().map((name) => join(path, name)));
    } else if (info.isFile) {
      bytes += info.size;
      if (records.length >= TREE_FILE_LIMIT || bytes > TREE_BYTE_LIMIT) return null;
      records.push([path, await cachedSha256(path, info)]);
    }
  }
  return await hashRecords(records);
}
