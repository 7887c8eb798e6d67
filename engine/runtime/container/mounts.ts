/**
 * Which host directories a PostgreSQL container mounts at their own paths.
 *
 * @module
 */

import { resolve } from "node:path";
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
