/**
 * The paths of Liquibase arguments: search path, classpath and root changelog, resolved against the
 * work dir and checked to exist; `classpath:` and `scheme://` references are left alone.
 *
 * @module
 */

import { isAbsolute, normalize, relative, resolve, sep } from "node:path";
import { invalidArgument } from "../../../shared/errors.ts";

/** Whether `value` is a `classpath:` or `scheme://` reference, which sqlrs leaves alone. */
export function isReference(value: string): boolean {
  return value.startsWith("classpath:") || /^[a-z][a-z0-9+.\-]*:\/\//i.test(value);
}

/** Whether anything exists at `path`. */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether `path` is a directory. */
export function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function isUnder(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

/** `a/./b/../c.xml` → `a/c.xml` (posix separators), without a leading `./`. */
function tidy(path: string): string {
  return normalize(path).split(sep).join("/").replace(/^(\.\/)+/, "");
}

function splitList(value: string): string[] {
  return value.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "");
}

/** `--search-path` entries (comma list): local ones absolute, and they must exist. */
export function resolveSearchPath(value: string, workDir: string, option: string): string[] {
  return splitList(value).map((entry) => {
    if (isReference(entry)) return entry;
    const path = resolve(workDir, entry);
    if (!exists(path)) {
      throw invalidArgument(`${option} entry ${entry} does not exist (looked for ${path})`, { path });
    }
    return path;
  });
}

/** `--classpath` entries (`:`-separated, like Java's): absolute, and they must exist. */
export function resolveClasspath(value: string, workDir: string, option: string): string[] {
  return value.split(":").map((entry) => entry.trim()).filter((entry) => entry !== "").map((entry) => {
    const path = resolve(workDir, entry);
    if (!exists(path)) {
      throw invalidArgument(`${option} entry ${entry} does not exist (looked for ${path})`, { path });
    }
    return path;
  });
}

/**
 * The root changelog's absolute path and the spelling sqlrs passes (relative to its search root, as
 * Liquibase records it); see `lb_args.ts` for the rules.
 */
export function resolveChangelog(
  value: string,
  roots: string[],
  hasRemoteRoots: boolean,
): { file: string; arg: string } {
  if (value.trim() === "") throw invalidArgument("--changelog-file is empty");
  if (isReference(value)) return { file: value, arg: value };
  if (isAbsolute(value)) {
    const file = normalize(value);
    const root = roots.find((dir) => isUnder(file, dir));
    if (root === undefined) {
      throw invalidArgument(
        `Liquibase changelog ${value} is outside the search path (${
          roots.join(", ")
        }); run from a directory ` +
          `that contains it or pass --search-path`,
        { path: value },
      );
    }
    if (!exists(file)) throw invalidArgument(`Liquibase changelog ${value} does not exist`, { path: value });
    return { file, arg: tidy(relative(root, file)) };
  }
  const arg = tidy(value);
  for (const root of roots) {
    const file = resolve(root, arg);
    if (exists(file)) return { file, arg };
  }
  if (hasRemoteRoots) return { file: arg, arg };
  const tried = roots.map((root) => resolve(root, arg));
  throw invalidArgument(`Liquibase changelog ${value} does not exist (looked for ${tried.join(", ")})`, {
    path: tried[0] ?? value,
  });
}
