/**
 * What a host build's server can load besides itself: its extensions. A state built with
 * `CREATE EXTENSION postgis` depends on the installed extension's version, so the digest of the
 * installed extension files is part of every step's key on the host runtime (a container image's id
 * already covers the extensions inside it).
 *
 * Control and script files (`<sharedir>/extension`) are hashed by content; libraries (`<pkglibdir>`)
 * by name, size and modification time, since hashing hundreds of MB of shared objects on every plan
 * would cost seconds and a package upgrade changes all three. The digest is reused while neither
 * directory's modification time changes (installing, removing or replacing a file changes it) and
 * both have been still for a while.
 *
 * @module
 */

import { join } from "node:path";
import { createHash } from "node:crypto";
import { run } from "../../exec.ts";

interface Cached {
  stamp: string;
  digest: string;
}

const cache = new Map<string, Cached>();

/** The answers of each build's pg_config, by bindir, while that pg_config is the same file. */
const dirsCache = new Map<string, { stamp: number; dirs: Promise<[string, string] | null> }>();

/**
 * `<sharedir>/extension` and `<pkglibdir>` of the build in `bindir`, or null without its pg_config:
 * asked once per pg_config binary (a process start costs more than the rest of a warm plan).
 */
function extensionDirs(bindir: string, pgConfigMtime: number): Promise<[string, string] | null> {
  const known = dirsCache.get(bindir);
  if (known !== undefined && known.stamp === pgConfigMtime) return known.dirs;
  const dirs = askPgConfig(bindir);
  dirsCache.set(bindir, { stamp: pgConfigMtime, dirs });
  return dirs;
}

async function askPgConfig(bindir: string): Promise<[string, string] | null> {
  try {
    const result = await run([join(bindir, "pg_config"), "--sharedir", "--pkglibdir"]);
    const [sharedir, pkglibdir] = result.stdout.trim().split("\n");
    if (sharedir === undefined || pkglibdir === undefined) return null;
    return [join(sharedir, "extension"), pkglibdir];
  } catch {
    return null;
  }
}

/** Synchronous: every plan checks three stamps, and an async stat costs tens of times a sync one. */
function mtimeOf(path: string): number {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return -1;
  }
}

/** A directory changed this recently may change again within the same millisecond: don't trust its stamp. */
const SETTLE_MS = 2000;

async function sortedEntries(dir: string): Promise<Deno.DirEntry[]> {
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) if (entry.isFile) entries.push(entry);
  } catch {
    return [];
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function computeDigest(extensionDir: string, libDir: string): Promise<string> {
  const hash = createHash("sha256");
  for (const entry of await sortedEntries(extensionDir)) {
    hash.update(`extension-file\0${entry.name}\0`);
    hash.update(await Deno.readFile(join(extensionDir, entry.name)));
  }
  for (const entry of await sortedEntries(libDir)) {
    const info = await Deno.stat(join(libDir, entry.name));
    hash.update(`library\0${entry.name}\0${info.size}\0${info.mtime?.getTime() ?? 0}\0`);
  }
  return hash.digest("hex").slice(0, 16);
}

/** A short digest of the extensions installed for the build in `bindir` ("unknown" without pg_config). */
export async function extensionsDigest(bindir: string): Promise<string> {
  const dirs = await extensionDirs(bindir, mtimeOf(join(bindir, "pg_config")));
  if (dirs === null) return "unknown";
  const [extensionDir, libDir] = dirs;
  const mtimes = [mtimeOf(extensionDir), mtimeOf(libDir)];
  const stamp = mtimes.join("/");
  const settled = Date.now() - Math.max(...mtimes) > SETTLE_MS;
  const cached = cache.get(bindir);
  if (settled && cached?.stamp === stamp) return cached.digest;
  const digest = await computeDigest(extensionDir, libDir);
  cache.set(bindir, { stamp, digest });
  return digest;
}
