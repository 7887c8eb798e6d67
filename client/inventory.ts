/**
 * Listing and deleting what the engine holds, for the library (`mod.ts`).
 *
 * @module
 */

import type { EngineClient } from "./engine_client.ts";
import { resolveDeleteTarget } from "./resolve.ts";
import { type ClientOptions, openSession } from "./session.ts";
import type {
  DeleteResult,
  InstanceEntry,
  NameEntry,
  PrepareJobEntry,
  StateEntry,
  TaskEntry,
} from "../shared/schemas.ts";

/**
 * What `ls()` lists, by kind.
 *
 * @example
 * ```ts
 * import type { ListKinds } from "@sqlrs/sqlrs";
 * const first: ListKinds["instances"] | undefined = undefined;
 * ```
 */
export interface ListKinds {
  /** Names bound to instances (`prepare({ name })`). */
  names: NameEntry;
  /** Running instances. */
  instances: InstanceEntry;
  /** Cached states. */
  states: StateEntry;
  /** Prepare jobs, finished ones included (trimmed per signature). */
  jobs: PrepareJobEntry;
  /** The tasks of jobs. */
  tasks: TaskEntry;
}

/**
 * Filters of `ls()`.
 *
 * @example
 * ```ts
 * import type { LsOptions } from "@sqlrs/sqlrs";
 * const options: LsOptions = { idPrefix: "3f2a9c1b" };
 * ```
 */
export interface LsOptions extends ClientOptions {
  /** Instances or states whose id starts with this. */
  idPrefix?: string | undefined;
  /** Tasks of this job only. */
  job?: string | undefined;
}

const LISTERS: {
  [K in keyof ListKinds]: (client: EngineClient, options: LsOptions) => Promise<ListKinds[K][]>;
} = {
  names: (client) => client.listNames(),
  instances: (client, options) => client.listInstances({ idPrefix: options.idPrefix }),
  states: (client, options) => client.listStates({ idPrefix: options.idPrefix }),
  jobs: (client) => client.listJobs(),
  tasks: (client, options) => client.listTasks(options.job),
};

/** The `kind` entries `options` select. */
export async function listKind<K extends keyof ListKinds>(
  kind: K,
  options: LsOptions,
): Promise<ListKinds[K][]> {
  const list = LISTERS[kind];
  if (list === undefined) {
    throw new TypeError(`Cannot list "${kind}": use one of ${Object.keys(LISTERS).join(", ")}`);
  }
  using session = await openSession(options);
  return await list(session.client, options);
}

/**
 * Options of `rm()`.
 *
 * @example
 * ```ts
 * import type { RmOptions } from "@sqlrs/sqlrs";
 * const options: RmOptions = { recurse: true, dryRun: true };
 * ```
 */
export interface RmOptions extends ClientOptions {
  /** Delete a state with every state and instance built on it. */
  recurse?: boolean | undefined;
  /** Delete instances even with open connections (they are terminated). */
  force?: boolean | undefined;
  /** Report what would be deleted, delete nothing. */
  dryRun?: boolean | undefined;
}

/** Deletes what `ref` names. */
export async function removeRef(ref: string, options: RmOptions): Promise<DeleteResult> {
  using session = await openSession(options);
  const target = await resolveDeleteTarget(session.client, ref);
  return await session.client.delete(target.kind, target.id, {
    force: options.force === true,
    dryRun: options.dryRun === true,
    recurse: options.recurse === true,
  });
}
