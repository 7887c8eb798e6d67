/**
 * Where a psql prepare's `-f` files are read from when the engine does not read the client's paths:
 * moved into an uploaded source tree, or, for `-f https://…`, the engine's fetched copy.
 *
 * @module
 */

import { resolve } from "node:path";
import type { PrepareJobRequestPsql } from "../../../shared/schemas.ts";
import { renderToken, tokenize } from "../../../shared/tool_options.ts";
import { isUrlInput } from "../../../shared/url_input.ts";

/** `args` with each `-f` value for which `map` gives a new one replaced by it. */
async function mapFiles(
  args: readonly string[],
  map: (file: string) => string | null | Promise<string | null>,
): Promise<string[]> {
  const out: string[] = [];
  for (const token of tokenize("psql", args)) {
    const file = token.kind === "option" && token.option.name === "file" ? token.value : null;
    const mapped = file === null ? null : await map(file);
    if (mapped !== null) out.push("-f", mapped);
    else out.push(...renderToken(token));
  }
  return out;
}

/** The request with its `-f` files (not `-f -`, not URLs) at `inside(absolute path)`. */
export async function psqlIntoTree(
  request: PrepareJobRequestPsql,
  inside: (path: string) => string,
): Promise<PrepareJobRequestPsql> {
  const psql_args = await mapFiles(
    request.psql_args,
    (file) => file === "-" || isUrlInput(file) ? null : inside(resolve(request.work_dir, file)),
  );
  return { ...request, psql_args };
}

/** The request with each `-f URL` replaced by the path `fetch` gives of the URL's content. */
export async function psqlWithUrlInputs(
  request: PrepareJobRequestPsql,
  fetch: (url: string) => Promise<string>,
): Promise<PrepareJobRequestPsql> {
  if (!request.psql_args.some((arg) => arg.includes("://"))) return request;
  const psql_args = await mapFiles(request.psql_args, (file) => isUrlInput(file) ? fetch(file) : null);
  return { ...request, psql_args };
}
