/**
 * The registry of snapshot backends: one entry per name of `shared/snapshot_backends.ts` (in the
 * order `auto` tries them). Selection (`select.ts`), `sqlrs status` and the engine's probe for
 * `sqlrs init` read it; adding a backend is its module plus one line here and its name there.
 *
 * @module
 */

import { SNAPSHOT_BACKENDS } from "../../shared/snapshot_backends.ts";
import { defaultExec, type Exec } from "../exec.ts";
import type { StateFS, StateFSAvailability, StateFSKind } from "./types.ts";
import { createBtrfsStateFS, probeBtrfs } from "./btrfs.ts";
import { createCopyStateFS, describeCopies } from "./copy.ts";
import { createOverlayStateFS, probeOverlay } from "./overlay.ts";

/** How to find out whether a backend works on a store, and how to make it there. */
export interface StateFSBackend {
  /**
   * Whether the backend can work on the store at `storeRoot` (created or not), and why (or why not).
   * Creates nothing but short-lived probe entries.
   */
  probe(storeRoot: string): Promise<StateFSAvailability>;
  /** The backend on the store at `storeRoot`, once a probe said it can work there. */
  create(storeRoot: string): StateFS;
}

/** Every backend, running its commands with `exec`. */
function backendsWith(exec: Exec): Record<StateFSKind, StateFSBackend> {
  return {
    btrfs: {
      probe: (storeRoot) => probeBtrfs(storeRoot, exec),
      create: (storeRoot) => createBtrfsStateFS(storeRoot, exec),
    },
    overlay: {
      probe: (storeRoot) => probeOverlay(storeRoot, exec),
      create: (storeRoot) => createOverlayStateFS(storeRoot, exec),
    },
    copy: {
      probe: async (storeRoot) => ({ available: true, detail: await describeCopies(exec, storeRoot) }),
      create: (storeRoot) => createCopyStateFS(storeRoot, exec),
    },
  };
}

/** The engine's backends start real processes. */
const BACKENDS = backendsWith(defaultExec);

/** The backend named `kind`. */
export function stateFSBackend(kind: StateFSKind): StateFSBackend {
  return BACKENDS[kind];
}

/** Every backend with its name, in the order `auto` tries them. */
export function stateFSBackends(): Array<{ kind: StateFSKind } & StateFSBackend> {
  return SNAPSHOT_BACKENDS.map((kind) => ({ kind, ...BACKENDS[kind] }));
}
