/**
 * Snapshot backends: how states (immutable snapshots of a data directory) and clones (writable
 * instances of them) are made on the store's filesystem.
 *
 * @module
 */

export type {
  FilesystemUsage,
  SnapshotOptions,
  StateFS,
  StateFSDescription,
  StateFSKind,
  Volume,
} from "./types.ts";
export { tempSibling } from "./publish.ts";
export { createCopyStateFS } from "./copy.ts";
export { createBtrfsStateFS } from "./btrfs.ts";
export { createOverlayStateFS } from "./overlay.ts";
export { createStateFS, probeStateFS, type StateFSProbe } from "./select.ts";
export { type StateFSBackend, stateFSBackend, stateFSBackends } from "./backends.ts";
