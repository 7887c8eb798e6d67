/**
 * The snapshot backend an engine runs with when the configured one cannot work on its store: every
 * operation fails with the reason, so that the engine still starts, `status` says what is wrong, and
 * only what needs snapshots (prepares, deleting states and instances) fails.
 *
 * @module
 */

import type { SqlrsError } from "../../shared/errors.ts";
import type { StateFS, StateFSKind } from "./types.ts";
import { defaultExec } from "../exec.ts";
import { filesystemUsage } from "./usage.ts";

/** A backend of `kind` whose every operation rejects with `reason`; `recover` has nothing to do and
 * `usage` still measures the filesystem. */
export function createUnavailableStateFS(kind: StateFSKind, reason: SqlrsError): StateFS {
  const fail = (): Promise<never> => Promise.reject(reason);
  return {
    kind,
    describe: () => Promise.resolve({ kind, detail: reason.message }),
    createEmpty: fail,
    snapshot: fail,
    flush: fail,
    clone: fail,
    reattach: fail,
    publish: fail,
    remove: fail,
    ownBytes: fail,
    // The store's filesystem is there whatever the backend: the cache can still say how full it is.
    usage: (path) => filesystemUsage(defaultExec, path),
    recover: () => Promise.resolve(),
  };
}
