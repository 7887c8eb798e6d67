/**
 * Chooses the snapshot backend for a store: `auto` takes btrfs where the store is on btrfs, else
 * overlay where a probe mount succeeds, else copy. An explicit backend that cannot work here is an
 * `unavailable` error that says why; there is no silent fallback.
 *
 * @module
 */

import { run } from "../exec.ts";
import { SqlrsError } from "../../shared/errors.ts";
import type { StateFS, StateFSKind } from "./types.ts";
import { createBtrfsStateFS } from "./btrfs.ts";
import { createCopyStateFS, describeCopies, filesystemName, filesystemType } from "./copy.ts";
import { createOverlayStateFS, probeOverlay } from "./overlay.ts";

/** Whether one backend can work on a store, and why (or why not). */
export interface StateFSProbe {
  kind: StateFSKind;
  available: boolean;
  detail: string;
}

async function probeBtrfs(storeRoot: string): Promise<{ available: boolean; detail: string }> {
  const type = await filesystemType(storeRoot);
  if (type !== "btrfs") {
    return {
      available: false,
      detail: `${storeRoot} is on ${await filesystemName(storeRoot)}, not btrfs ` +
        `(run "sqlrs init local --snapshot btrfs --store image")`,
    };
  }
  const tool = await run(["btrfs", "--version"]).catch(() => undefined);
  if (tool?.code !== 0) {
    return {
      available: false,
      detail: `${storeRoot} is on btrfs, but the btrfs tool is missing (install btrfs-progs)`,
    };
  }
  return { available: true, detail: `${storeRoot} is on btrfs` };
}

function unavailable(kind: StateFSKind, detail: string): SqlrsError {
  return new SqlrsError("unavailable", `Snapshot backend "${kind}" cannot work here: ${detail}`, {
    details: { backend: kind },
  });
}

/**
 * Creates the snapshot backend for the store at `storeRoot` (created when missing).
 *
 * @returns the backend and one line saying why it was chosen
 * @throws {SqlrsError} `unavailable` when an explicit `kind` cannot work on this store
 */
export async function createStateFS(
  kind: "auto" | StateFSKind,
  storeRoot: string,
): Promise<{ statefs: StateFS; reason: string }> {
  await Deno.mkdir(storeRoot, { recursive: true });
  switch (kind) {
    case "copy":
      return { statefs: createCopyStateFS(storeRoot), reason: "copy was chosen explicitly" };
    case "btrfs": {
      const btrfs = await probeBtrfs(storeRoot);
      if (!btrfs.available) throw unavailable("btrfs", btrfs.detail);
      return {
        statefs: createBtrfsStateFS(storeRoot),
        reason: `btrfs was chosen explicitly; ${btrfs.detail}`,
      };
    }
    case "overlay": {
      const overlay = await probeOverlay(storeRoot);
      if (!overlay.available) throw unavailable("overlay", overlay.detail);
      return {
        statefs: createOverlayStateFS(storeRoot),
        reason: `overlay was chosen explicitly; ${overlay.detail}`,
      };
    }
    case "auto": {
      const btrfs = await probeBtrfs(storeRoot);
      if (btrfs.available) return { statefs: createBtrfsStateFS(storeRoot), reason: `auto: ${btrfs.detail}` };
      const overlay = await probeOverlay(storeRoot);
      if (overlay.available) {
        return {
          statefs: createOverlayStateFS(storeRoot),
          reason: `auto: ${btrfs.detail}; ${overlay.detail}`,
        };
      }
      return {
        statefs: createCopyStateFS(storeRoot),
        reason: `auto: ${btrfs.detail}; overlay cannot work (${overlay.detail})`,
      };
    }
  }
}

/**
 * What each backend would do on the store at `storeRoot`, for `sqlrs status`. Creates nothing but a
 * short-lived probe directory (in the nearest existing ancestor when the store does not exist yet).
 */
export async function probeStateFS(storeRoot: string): Promise<StateFSProbe[]> {
  const btrfs = await probeBtrfs(storeRoot);
  const overlay = await probeOverlay(storeRoot);
  const copies = await describeCopies(storeRoot);
  return [
    { kind: "btrfs", ...btrfs },
    { kind: "overlay", ...overlay },
    { kind: "copy", available: true, detail: copies },
  ];
}
