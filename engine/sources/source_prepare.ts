/**
 * Runs a prepare against an uploaded source tree: the request's `work_dir`, its `-f` paths and its
 * Liquibase changelog, search path and defaults file move into the tree (keys hash content, not
 * paths, so a state is the one a local prepare makes), a file the plan reads that the manifest lacks
 * becomes a `source_inputs_missing` answer naming the client's path, and tree paths in error
 * messages read as the client's paths again.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { SqlrsError } from "../../shared/errors.ts";
import type { PrepareJobRequest } from "../../shared/schemas.ts";
import { prepareKindOf } from "../prepare/kinds.ts";
import type { BlobStore } from "./blob_store.ts";
import type { SourceTree, SourceTrees } from "./source_trees.ts";
import { fetchUrlInputs } from "./url_inputs.ts";

/** The request with its paths inside `tree` (`source_id` dropped: the tree is what the job reads). */
export async function requestInTree(
  request: PrepareJobRequest,
  tree: SourceTree,
): Promise<PrepareJobRequest> {
  // Normalized first: a client's "/a/../.." must not lead out of the tree.
  const inside = (path: string) => join(tree.root, resolve(path).slice(1));
  const { source_id: _, ...moved } = await prepareKindOf(request).intoTree(request, inside);
  return { ...moved, work_dir: inside(request.work_dir) };
}

/**
 * The client's path of the file `error` is about when it lies in `tree` but the manifest does not list
 * it (a file the client has not uploaded yet), else null.
 */
export function notUploaded(error: unknown, tree: SourceTree): string | null {
  if (!(error instanceof SqlrsError)) return null;
  const path = error.details?.path;
  if (typeof path !== "string" || !path.startsWith(`${tree.root}/`)) return null;
  const clientPath = path.slice(tree.root.length);
  return clientPath in tree.files ? null : clientPath;
}

/**
 * Calls `submit` with the request moved into its tree when it names a `source_id`, as it is otherwise,
 * and with the content of its `-f https://…` files fetched.
 * @throws {SqlrsError} `source_inputs_missing` with `details.paths` when the plan read a file the
 * manifest does not list
 */
export async function submitWithSource<T>(
  sources: { trees: SourceTrees; blobs: BlobStore },
  request: PrepareJobRequest,
  submit: (request: PrepareJobRequest) => Promise<T>,
): Promise<T> {
  if (request.source_id === undefined) return await submit(await fetchUrlInputs(request, sources.blobs));
  const tree = await sources.trees.materialize(request.source_id);
  const moved = await requestInTree(request, tree);
  // The tree holds the uploaded files' directories only; psql and Liquibase start in the work dir.
  await Deno.mkdir(moved.work_dir, { recursive: true, mode: 0o711 });
  try {
    return await submit(await fetchUrlInputs(moved, sources.blobs));
  } catch (error) {
    if (!(error instanceof SqlrsError)) throw error;
    const missing = notUploaded(error, tree);
    if (missing !== null) {
      throw new SqlrsError("source_inputs_missing", `The prepare reads ${missing}: upload it`, {
        details: { paths: [missing] },
      });
    }
    const path = error.details?.path;
    const details = typeof path === "string"
      ? { ...error.details, path: path.replace(tree.root, "") }
      : error.details;
    throw new SqlrsError(error.code, error.message.replaceAll(tree.root, ""), {
      ...(details === undefined ? {} : { details }),
      cause: error,
    });
  }
}
