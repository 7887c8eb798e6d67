/**
 * Resolving what a user typed to one object: for `rm`, a job by id or 8+ hex prefix, an instance by
 * id, prefix or name, or a state by an 8+ hex prefix; for `watch`, a job. More than one match is an
 * error; so is none.
 *
 * @module
 */

import { notFound, shortPrefixError, SqlrsError } from "../shared/errors.ts";
import { ApiError, type EngineClient } from "./engine_client.ts";

/** A deletable object: the API collection it lives in and its full id. */
export interface DeleteTarget {
  kind: "instances" | "states" | "prepare-jobs";
  id: string;
}

const ID_PREFIX = /^[0-9a-fA-F]{8,}$/;

/** The jobs whose id starts with `ref` (an 8+ hex prefix or a full id). */
async function jobsWithPrefix(client: EngineClient, ref: string): Promise<string[]> {
  if (!ID_PREFIX.test(ref)) return [];
  const prefix = ref.toLowerCase();
  return (await client.listJobs()).map((job) => job.job_id).filter((id) => id.startsWith(prefix));
}

/**
 * The full id of the one job `ref` names (its id or an 8+ hex prefix).
 *
 * @throws {SqlrsError} `not_found` when no job matches, `ambiguous` when several do, `invalid_argument`
 * when `ref` is a hex prefix shorter than 8
 */
export async function resolveJobId(client: EngineClient, ref: string): Promise<string> {
  const ids = await jobsWithPrefix(client, ref);
  if (ids.length > 1) {
    throw new SqlrsError(
      "ambiguous",
      `Cannot resolve job "${ref}": prefix matches ${ids.length} jobs: ${ids.join(", ")}`,
    );
  }
  if (ids[0] !== undefined) return ids[0];
  throw shortPrefixError(ref) ?? notFound(`Job "${ref}" not found`);
}

/**
 * The one object `ref` names.
 *
 * @throws {SqlrsError} `not_found` when nothing matches; `ambiguous` when `ref` matches several
 * objects; `invalid_argument` when `ref` is a hex prefix shorter than 8
 * @example
 * ```ts ignore
 * const target = await resolveDeleteTarget(client, "3f2a9c1b");
 * await client.delete(target.kind, target.id);
 * ```
 */
export async function resolveDeleteTarget(client: EngineClient, ref: string): Promise<DeleteTarget> {
  const found: DeleteTarget[] = (await jobsWithPrefix(client, ref)).map((id) => ({
    kind: "prepare-jobs",
    id,
  }));
  try {
    found.push({ kind: "instances", id: (await client.instance(ref)).instance_id });
  } catch (error) {
    // A short hex ref is judged below, once states and jobs have not matched it either.
    if (!(error instanceof ApiError) || (error.code !== "not_found" && error.code !== "invalid_argument")) {
      throw error;
    }
  }
  if (ID_PREFIX.test(ref)) {
    const states = await client.listStates({ idPrefix: ref });
    if (states.length > 1) {
      throw new SqlrsError(
        "ambiguous",
        `Cannot resolve "${ref}": prefix matches ${states.length} states: ${
          states.map((s) => s.state_id.slice(0, 16)).join(", ")
        }`,
      );
    }
    if (states[0] !== undefined) found.push({ kind: "states", id: states[0].state_id });
  }
  if (found.length > 1) {
    throw new SqlrsError(
      "ambiguous",
      `Cannot resolve "${ref}": it matches ${
        found.map((f) => `${f.kind.replace(/s$/, "").replace("prepare-job", "job")} ${f.id}`).join(" and ")
      }`,
    );
  }
  if (found[0] !== undefined) return found[0];
  throw shortPrefixError(ref) ?? notFound(`Cannot delete "${ref}": no instance, state or job matches`);
}
