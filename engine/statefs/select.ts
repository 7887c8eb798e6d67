/**
 * Chooses the snapshot backend for a store from the registry (`backends.ts`): `auto` takes the first
 * that can work there (btrfs where the store is on btrfs, else overlay where a probe mount succeeds,
 * else copy). An explicit backend that cannot work here is an `unavailable` error that says why;
 * there is no silent fallback.
 *
 * @module
 */

import { SqlrsError } from "../../shared/errors.ts";
import {
  isSnapshotSetting,
  SNAPSHOT_BACKENDS,
  type SnapshotSetting,
  snapshotSettingsList,
} from "../../shared/snapshot_backends.ts";
import type { StateFS, StateFSAvailability, StateFSKind } from "./types.ts";
import { stateFSBackend, stateFSBackends } from "./backends.ts";
import { createUnavailableStateFS } from "./unavailable.ts";

/** Whether one backend can work on a store, and why (or why not). */
export interface StateFSProbe extends StateFSAvailability {
  kind: StateFSKind;
}

/** The backend that works on any filesystem: what `auto` falls back to. */
const FALLBACK: StateFSKind = SNAPSHOT_BACKENDS[SNAPSHOT_BACKENDS.length - 1] as StateFSKind;

function unavailable(kind: StateFSKind, detail: string): SqlrsError {
  return new SqlrsError("unavailable", `Snapshot backend "${kind}" cannot work here: ${detail}`, {
    details: { backend: kind },
  });
}

/** Whether the backend setting `kind` can work on the store at `storeRoot` (`auto` always can). */
export async function probeStateFSKind(
  kind: SnapshotSetting,
  storeRoot: string,
): Promise<StateFSAvailability> {
  if (kind === "auto") return { available: true, detail: "auto works on any filesystem" };
  return await stateFSBackend(kind).probe(storeRoot);
}

/**
 * Creates the snapshot backend for the store at `storeRoot` (created when missing).
 *
 * @returns the backend and one line saying why it was chosen
 * @throws {SqlrsError} `unavailable` when an explicit `kind` cannot work on this store
 */
export async function createStateFS(
  kind: SnapshotSetting,
  storeRoot: string,
): Promise<{ statefs: StateFS; reason: string }> {
  await Deno.mkdir(storeRoot, { recursive: true });
  if (kind !== "auto") {
    const backend = stateFSBackend(kind);
    const probe = await backend.probe(storeRoot);
    if (!probe.available) throw unavailable(kind, probe.detail);
    return { statefs: backend.create(storeRoot), reason: `${kind} was chosen explicitly; ${probe.detail}` };
  }
  const passed: string[] = [];
  for (const backend of stateFSBackends()) {
    const probe = await backend.probe(storeRoot);
    if (probe.available) {
      return { statefs: backend.create(storeRoot), reason: `auto: ${[...passed, probe.detail].join("; ")}` };
    }
    passed.push(`${backend.kind} cannot work (${probe.detail})`);
  }
  // The last backend works on any filesystem.
  throw new SqlrsError(
    "internal_error",
    `No snapshot backend can work on ${storeRoot}: ${passed.join("; ")}`,
  );
}

/** Whether `value` names a backend setting: `auto` or one of the backends. */
export function isStateFSSetting(value: string): value is SnapshotSetting {
  return isSnapshotSetting(value);
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
  const kind = isSnapshotSetting(setting.value) ? setting.value : undefined;
  let why: string;
  try {
    if (kind !== undefined) return await createStateFS(kind, storeRoot);
    why = `Invalid snapshot backend "${setting.value}": use ${snapshotSettingsList()}`;
  } catch (error) {
    if (!(error instanceof SqlrsError)) throw error;
    why = error.message;
  }
  const problem = `${why} (from ${setting.source}); ${setting.fix}`;
  const statefs = createUnavailableStateFS(
    kind === undefined || kind === "auto" ? FALLBACK : kind,
    new SqlrsError("unavailable", problem, { details: { backend: setting.value } }),
  );
  return { statefs, reason: problem, problem };
}

/**
 * What each backend would do on the store at `storeRoot`, for `sqlrs status`. Creates nothing but a
 * short-lived probe directory (in the nearest existing ancestor when the store does not exist yet).
 */
export async function probeStateFS(storeRoot: string): Promise<StateFSProbe[]> {
  const probes: StateFSProbe[] = [];
  for (const backend of stateFSBackends()) {
    probes.push({ kind: backend.kind, ...await backend.probe(storeRoot) });
  }
  return probes;
}
