/**
 * Who owns what on a team engine: a job is its submitter's, and so are its instance and the names
 * bound to that instance. States are shared (content-addressed). Refs (ids, prefixes, names) are
 * resolved among what the user owns, so that another user's things answer 404, exactly as things
 * that do not exist; an admin resolves among everything.
 *
 * @module
 */

import { notFound, SqlrsError } from "../../shared/errors.ts";
import type { InstanceEntry, NameEntry, PrepareJobEntry } from "../../shared/schemas.ts";
import type { TeamUser } from "./users.ts";

/** The registry facts ownership needs (the registry itself, in engine.ts). */
export interface OwnerStore {
  setJobOwner(jobId: string, owner: string): void;
  jobOwner(jobId: string): string | undefined;
  getInstance(instanceId: string): { job_id: string | null } | undefined;
}

/** Reads a list from the engine's own API (JSON). */
export type ListReader = <T>(path: string) => Promise<T[]>;

/** The owner of an instance: the owner of the job that made it. */
export function instanceOwner(store: OwnerStore, instanceId: string): string | undefined {
  const jobId = store.getInstance(instanceId)?.job_id;
  return jobId === null || jobId === undefined ? undefined : store.jobOwner(jobId);
}

/** Keeps the entries of a list that `user` may see. */
export function visible<T>(
  store: OwnerStore,
  user: TeamUser,
  kind: "instances" | "names" | "prepare-jobs" | "tasks",
  items: readonly T[],
): T[] {
  if (user.admin) return [...items];
  return items.filter((item) => {
    const entry = item as { job_id?: string; instance_id?: string | null };
    if (kind === "prepare-jobs" || kind === "tasks") {
      return store.jobOwner(entry.job_id ?? "") === user.name;
    }
    return entry.instance_id != null && instanceOwner(store, entry.instance_id) === user.name;
  });
}

const HEX_PREFIX = /^[0-9a-f]{8,}$/;

/** The one id among `ids` that `ref` names (whole, or as a prefix of 8+ hex characters). */
function pick(ids: readonly string[], ref: string, what: string): string {
  if (ids.includes(ref)) return ref;
  const matches = HEX_PREFIX.test(ref) ? ids.filter((id) => id.startsWith(ref)) : [];
  if (matches.length === 1) return matches[0] as string;
  if (matches.length > 1) {
    throw new SqlrsError("ambiguous", `Cannot resolve ${what} "${ref}": prefix matches ${matches.length}`);
  }
  throw notFound(`No ${what} "${ref}"`);
}

/**
 * The instance id `ref` (an id, a prefix or a name) names among the user's instances.
 * @throws {SqlrsError} `not_found` (also for another user's instance), `ambiguous`
 */
export async function ownedInstance(
  store: OwnerStore,
  user: TeamUser,
  list: ListReader,
  ref: string,
): Promise<string> {
  const names = visible(store, user, "names", await list<NameEntry>("/v1/names"));
  const named = names.find((entry) => entry.name === ref)?.instance_id;
  if (named != null) return named;
  const instances = visible(store, user, "instances", await list<InstanceEntry>("/v1/instances"));
  return pick(instances.map((entry) => entry.instance_id), ref, "instance");
}

/**
 * The job id `ref` (an id or a prefix) names among the user's jobs.
 * @throws {SqlrsError} `not_found` (also for another user's job), `ambiguous`
 */
export async function ownedJob(
  store: OwnerStore,
  user: TeamUser,
  list: ListReader,
  ref: string,
): Promise<string> {
  const jobs = visible(store, user, "prepare-jobs", await list<PrepareJobEntry>("/v1/prepare-jobs"));
  return pick(jobs.map((entry) => entry.job_id), ref, "job");
}

/**
 * Refuses a name held by another user: `--name` would be a conflict that names their instance, and
 * `--rebind` would take the name from them.
 * @throws {SqlrsError} `conflict`
 */
export async function refuseOthersName(
  store: OwnerStore,
  user: TeamUser,
  list: ListReader,
  name: string,
): Promise<void> {
  const entry = (await list<NameEntry>("/v1/names")).find((candidate) => candidate.name === name);
  if (entry === undefined || entry.instance_id === null) return;
  const owner = instanceOwner(store, entry.instance_id);
  if (owner !== user.name && !user.admin) {
    throw new SqlrsError("conflict", `The name "${name}" is taken by another user: choose another name`);
  }
}
