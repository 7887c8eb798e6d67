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
import { createUnavailableStateFS } from "./unavailable.ts";

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

/** Whether the backend setting `kind` can work on the store at `storeRoot` (`auto` and copy always can). */
export async function probeStateFSKind(
  kind: "auto" | StateFSKind,
  storeRoot: string,
): Promise<{ available: boolean; detail: string }> {
  switch (kind) {
    case "btrfs":
      return await probeBtrfs(storeRoot);
    case "overlay":
      return await probeOverlay(storeRoot);
    case "copy":
    case "auto":
      return { available: true, detail: `${kind} works on any filesystem` };
  }
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
    case "btrfs":
    case "overlay": {
      const probe = await probeStateFSKind(kind, storeRoot);
      if (!probe.available) throw unavailable(kind, probe.detail);
      return {
        statefs: kind === "btrfs" ? createBtrfsStateFS(storeRoot) : createOverlayStateFS(storeRoot),
        reason: `${kind} was chosen explicitly; ${probe.detail}`,
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

const SETTINGS: readonly string[] = ["auto", "btrfs", "overlay", "copy"];

/** Whether `value` names a backend setting: `auto` or one of the backends. */
export function isStateFSSetting(value: string): value is "auto" | StateFSKind {
  return SETTINGS.includes(value);
}

/** The snapshot backend setting an engine starts with, and where it comes from (for messages). */
export interface StateFSSetting {
  value: string;
  /** `snapshot.backend` (engine config) or `SQLRS_SNAPSHOT_BACKEND` (a workspace's config). */
  source: string;
  /** How a user changes it, e.g. `run "sqlrs config rm snapshot.backend"`. */
  fix: string;
}

/**
 * Opens the configured snapshot backend for an engine. A setting that cannot work here never keeps
 * the engine from starting (then neither `status` nor `config rm` could repair it): the engine gets
 * a backend whose every operation fails with the reason, and `problem` carries it for `status`.
 */
export async function openStateFS(
  setting: StateFSSetting,
  storeRoot: string,
): Promise<{ statefs: StateFS; reason: string; problem?: string }> {
  const kind = isStateFSSetting(setting.value) ? setting.value : undefined;
  let why: string;
  try {
    if (kind !== undefined) return await createStateFS(kind, storeRoot);
    why = `Invalid snapshot backend "${setting.value}": use ${SETTINGS.join(", ")}`;
  } catch (error) {
    if (!(error instanceof SqlrsError)) throw error;
    why = error.message;
  }
  const problem = `${why} (from ${setting.source}); ${setting.fix}`;
  const statefs = createUnavailableStateFS(
    kind === undefined || kind === "auto" ? "copy" : kind,
    new SqlrsError("unavailable", problem, { details: { backend: setting.value } }),
  );
  return { statefs, reason: problem, problem };
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
