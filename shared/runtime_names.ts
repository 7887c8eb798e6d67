/**
 * The names of the runtimes sqlrs can run PostgreSQL on, for the config schema and the engine's
 * runtime registry (`engine/runtime/registry.ts`, which pairs each name with its factory).
 *
 * @module
 */

/** Every runtime's name (`engine/runtime/registry.ts` holds the order `container.runtime: auto` tries). */
export const RUNTIME_NAMES = ["docker", "podman", "host"] as const;

/** A runtime's name. */
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

/** The values of engine config `container.runtime`: `auto` or a runtime's name. */
export const CONTAINER_RUNTIME_SETTINGS: readonly ["auto", ...typeof RUNTIME_NAMES] = [
  "auto",
  ...RUNTIME_NAMES,
];

/** A value of engine config `container.runtime`. */
export type ContainerRuntimeSetting = (typeof CONTAINER_RUNTIME_SETTINGS)[number];
