/**
 * File digests remembered while a file is unchanged: a warm prepare re-checks every file its plan read,
 * and reading and hashing them all again (a large script, a Liquibase project of hundreds of files)
 * costs far more than a `stat`. A digest is reused while the file's identity, size, mtime and ctime
 * are those it was hashed with.
 *
 * As git's index does for "racily clean" files, a digest taken less than {@link RACY_MS} after the
 * file's last change is not trusted later: a write in the same timestamp tick, keeping the size, would
 * leave every stat field as it was.
 *
 * @module
 */

import { sha256File } from "./fingerprint.ts";

/** How close to its last change a file may be hashed for the digest to be reused. */
const RACY_MS = 2000;
/** Files remembered (least recently hashed go first). */
const MAX_ENTRIES = 4096;

interface Entry {
  key: string;
  digest: string;
}

const entries = new Map<string, Entry>();

function statKey(info: Deno.FileInfo): string | undefined {
  const mtime = info.mtime?.getTime();
  if (mtime === undefined) return undefined;
  return `${info.dev}:${info.ino}:${info.size}:${mtime}:${info.ctime?.getTime() ?? ""}`;
}

/**
 * SHA-256 (hex) of a file's bytes, from memory when the file has not changed since it was hashed.
 * @throws what `Deno.stat` or reading the file throws
 */
export async function fileDigest(path: string): Promise<string> {
  const info = await Deno.stat(path);
  const key = statKey(info);
  const known = entries.get(path);
  if (key !== undefined && known?.key === key) return known.digest;
  const hashedAt = Date.now();
  const digest = await sha256File(path);
  entries.delete(path);
  const changed = Math.max(info.mtime?.getTime() ?? hashedAt, info.ctime?.getTime() ?? 0);
  if (key !== undefined && hashedAt - changed >= RACY_MS) {
    entries.set(path, { key, digest });
    if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
  }
  return digest;
}
