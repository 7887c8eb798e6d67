/**
 * Resolving what a user typed (`rm <ref>`) to one deletable object: a job by its full id, an instance
 * by id, prefix or name, or a state by an 8+ hex prefix. More than one match is an error.
 *
 * @module
 */

import { SqlrsError } from "../shared/errors.ts";
import { ApiError, type EngineClient } from "./engine_client.ts";

/** A deletable object: the API collection it lives in and its full id. */
export interface DeleteTarget {
  kind: "instances" | "states" | "prepare-jobs";
  id: string;
}

/**
 * The one object `ref` names, or `undefined` when nothing matches.
 *
 * @throws {SqlrsError} `ambiguous` when `ref` matches several states, or objects of different kinds
 * @example
 * ```ts ignore
 * const target = await resolveDeleteTarget(client, "3f2a9c1b");
 * if (target !== undefined) await client.delete(target.kind, target.id);
 * ```
 */
export async function resolveDeleteTarget(
  client: EngineClient,
  ref: string,
): Promise<DeleteTarget | undefined> {
  const found: DeleteTarget[] = [];
  if (/^[0-9a-f]{32}$/.test(ref) && (await client.listJobs()).some((job) => job.job_id === ref)) {
    found.push({ kind: "prepare-jobs", id: ref });
  }
  try {
    found.push({ kind: "instances", id: (await client.instance(ref)).instance_id });
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== "not_found") throw error;
  }
  if (/^[0-9a-fA-F]{8,}$/.test(ref)) {
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
  return found[0];
}
