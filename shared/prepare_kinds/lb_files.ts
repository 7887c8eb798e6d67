/**
 * The files a Liquibase prepare may read, for an upload: the changelog, the defaults file, and every
 * file under the search path (else under the changelog's directory), since a changelog reaches files
 * no argument names (`include`, `includeAll`, `sqlFile`, `loadData`). `.git` and `.sqlrs` are left out.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { SqlrsError } from "../errors.ts";
import { mapLbPathOptions } from "./lb_path_options.ts";
import { isUrlInput } from "../url_input.ts";

/** More files than this under the roots is refused: an upload is not meant to copy a whole disk. */
export const LB_FILE_LIMIT = 20_000;

const SKIPPED = new Set([".git", ".sqlrs"]);

/** Absolute paths of the files to upload for `liquibaseArgs` run in `workDir`. */
export async function liquibaseFiles(liquibaseArgs: readonly string[], workDir: string): Promise<string[]> {
  const named: string[] = [];
  const roots: string[] = [];
  mapLbPathOptions(liquibaseArgs, (option, value) => {
    if (option === "search-path") {
      const entries = value.split(",").map((entry) => entry.trim());
      // `classpath:` and URL entries are not local files.
      roots.push(
        ...entries.filter((entry) => entry !== "" && !isUrlInput(entry) && !entry.includes(":"))
          .map((entry) => resolve(workDir, entry)),
      );
    } else if (!isUrlInput(value) && !value.startsWith("classpath:")) named.push(resolve(workDir, value));
    return value;
  });
  const changelog = named[0];
  if (roots.length === 0 && changelog !== undefined) roots.push(dirname(changelog));
  const files = new Set(named);
  for (const root of roots) await walk(root, files);
  return [...files];
}

async function walk(dir: string, files: Set<string>): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return; // not a directory: the engine reports what it misses
  }
  for (const entry of entries) {
    if (SKIPPED.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory) await walk(path, files);
    else if (entry.isFile) {
      files.add(path);
      if (files.size > LB_FILE_LIMIT) {
        throw new SqlrsError(
          "invalid_argument",
          `Cannot upload the Liquibase sources: more than ${LB_FILE_LIMIT} files under ${dir}; ` +
            `pass --search-path with the changelog directories only`,
        );
      }
    }
  }
}
