/**
 * Which host directories a PostgreSQL container mounts at their own paths.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { SqlrsError } from "../../../shared/errors.ts";
import { isUnder } from "../_support.ts";

/**
 * Directories that cannot be mounted at their own path: they or a directory under them make the
 * container's system (a mount there would hide the image's programs).
 */
const SYSTEM_DIRS = [
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/usr/bin",
  "/usr/sbin",
  "/usr/lib",
  "/usr/local/bin",
  "/usr/share/postgresql",
  "/etc",
  "/var/lib/postgresql",
  "/run/postgresql",
  "/var/run/postgresql",
];
const VIRTUAL_ROOTS = ["/proc", "/sys", "/dev"];

/**
 * The directories to bind-mount read-only for `dirs`: absolute, existing, deduplicated (a directory
 * under another one is covered by it). `/` needs no mount (the container has its own root, and
 * tools run there when nothing else is mounted).
 * @throws {SqlrsError} `invalid_argument` for a directory that cannot be mounted at its own path
 */
export function mountPlan(dirs: readonly string[], exists: (path: string) => boolean): string[] {
  const wanted = new Set<string>();
  for (const dir of dirs) {
    const path = resolve(dir);
    if (path === "/" || !exists(path)) continue;
    const system = SYSTEM_DIRS.find((system) => isUnder(system, path));
    if (system !== undefined || VIRTUAL_ROOTS.some((root) => isUnder(path, root))) {
      throw new SqlrsError(
        "invalid_argument",
        `Cannot mount ${path} into a PostgreSQL container at the same path: it would hide ${
          system ?? path
        } of the image; move the scripts (and run sqlrs) elsewhere, or use --image host`,
        { details: { path } },
      );
    }
    wanted.add(path);
  }
  const sorted = [...wanted].sort((a, b) => a.length - b.length);
  return sorted.filter((path, i) => !sorted.slice(0, i).some((parent) => isUnder(path, parent)));
}

/** Whether `path` is an existing directory (the `exists` of {@link mountPlan} on this machine). */
export function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * The server reaches its data and run dirs through the directories of a read-only mount above them
 * (a work dir that contains the store): each must let the server user pass.
 * @throws {SqlrsError} `invalid_argument` naming the directory to make searchable
 */
export async function assertPassable(
  mounts: readonly string[],
  targets: readonly string[],
  owner: { uid: number; gid: number },
): Promise<void> {
  for (const mount of mounts) {
    for (const target of targets) {
      if (target === mount || !isUnder(target, mount)) continue;
      for (let dir = dirname(target); isUnder(dir, mount); dir = dirname(dir)) {
        const info = await Deno.stat(dir);
        const mode = info.mode ?? 0;
        const bit = info.uid === owner.uid ? 0o100 : info.gid === owner.gid ? 0o010 : 0o001;
        if ((mode & bit) === 0) {
          throw new SqlrsError(
            "invalid_argument",
            `${dir} is mounted into the PostgreSQL container with ${mount} (a directory the scripts need), ` +
              `and the image's postgres user (uid ${owner.uid}) cannot pass through it to ${target}: ` +
              `make it searchable (chmod o+x ${dir}) or keep the sqlrs store outside ${mount}`,
            { details: { path: dir } },
          );
        }
        if (dir === mount) break;
      }
    }
  }
}
