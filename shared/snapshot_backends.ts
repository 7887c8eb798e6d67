/**
 * The names of the snapshot backends, for everything that must know them without the engine: the
 * config schema, `sqlrs init` and the engine's own registry (`engine/statefs/backends.ts`, which holds
 * one implementation per name: the compiler refuses a name without one).
 *
 * @module
 */

/** The snapshot backends, in the order `auto` tries them; the last works on any filesystem. */
export const SNAPSHOT_BACKENDS = ["btrfs", "overlay", "copy"] as const;

/** One snapshot backend. */
export type SnapshotBackend = typeof SNAPSHOT_BACKENDS[number];

/** What `snapshot.backend` may be set to: `auto` or a backend. */
export const SNAPSHOT_SETTINGS = ["auto", ...SNAPSHOT_BACKENDS] as const;

/** A value of `snapshot.backend`. */
export type SnapshotSetting = typeof SNAPSHOT_SETTINGS[number];

/** Whether `value` names a snapshot setting. */
export function isSnapshotSetting(value: unknown): value is SnapshotSetting {
  return (SNAPSHOT_SETTINGS as readonly unknown[]).includes(value);
}

/** The settings as a user reads them: "auto, btrfs, overlay or copy". */
export function snapshotSettingsList(): string {
  return `${SNAPSHOT_SETTINGS.slice(0, -1).join(", ")} or ${SNAPSHOT_SETTINGS.at(-1)}`;
}
