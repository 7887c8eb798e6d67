/**
 * The engine config (`<store>/config.json`, `/v1/config`) with its defaults, and the config requests.
 *
 * @module
 */

import { z } from "../deps.ts";
import { typed } from "./_typed.ts";
import { SNAPSHOT_BACKENDS, SNAPSHOT_SETTINGS, type SnapshotSetting } from "../snapshot_backends.ts";
import { CONTAINER_RUNTIME_SETTINGS, type ContainerRuntimeSetting } from "../runtime_names.ts";
import { Duration } from "./common.ts";

const CacheCapacityConfig = z.strictObject({
  maxBytes: z.number().int().min(0).nullable().default(null)
    .describe("Upper bound of the state cache in bytes; null = the store's size minus reserveBytes"),
  reserveBytes: z.number().int().min(0).nullable().default(null)
    .describe("Free space to keep on the store; null = 10% of the store, at most 10 GiB"),
  highWatermark: z.number().gt(0).max(1).default(0.9).describe(
    "Eviction starts above this share of the limit",
  ),
  lowWatermark: z.number().gt(0).max(1).default(0.8).describe("Eviction stops below this share of the limit"),
  minStateAge: Duration.default("10m").describe(
    "Leaf states younger than this are never evicted (states with descendants can go at any age)",
  ),
});

const PoolConfig = z.strictObject({
  size: z.number().int().min(0).default(0).describe(
    "Warm instances kept per hot state (started, with their own credentials, handed out by the next " +
      "prepare of the state); 0 = no pool",
  ),
  hotAfter: z.number().int().min(1).default(2).describe(
    "A state becomes hot at its Nth prepare within idleTimeout (the first always starts an instance as " +
      "without a pool)",
  ),
  states: z.record(z.string(), z.number().int().min(0)).default({}).describe(
    "Per-state sizes by state id, instead of size (such a state is hot from its first prepare)",
  ),
  maxIdle: z.number().int().min(0).default(8).describe("Warm instances kept across all states"),
  maxIdleMemoryBytes: z.number().int().min(0).nullable().default(null).describe(
    "Memory (PSS of the servers' processes, host runtime) the warm instances may use; null = no limit",
  ),
  idleTimeout: Duration.default("10m").describe(
    "A warm instance not handed out for this long is stopped and removed; a state not prepared for " +
      "this long is no longer hot",
  ),
});

/** The engine's configuration with every default applied (what `EngineConfig.parse` returns). */
export interface EngineConfig {
  orchestrator: { jobs: { maxIdentical: number | null } };
  container: { runtime: ContainerRuntimeSetting };
  snapshot: { backend: SnapshotSetting };
  cache: {
    capacity: {
      maxBytes: number | null;
      reserveBytes: number | null;
      highWatermark: number;
      lowWatermark: number;
      minStateAge: string;
    };
  };
  instances: { ttl: string | null; collectGrace: string; max: number | null };
  liquibase: { exec: string | null };
  pool: {
    size: number;
    hotAfter: number;
    states: Record<string, number>;
    maxIdle: number;
    maxIdleMemoryBytes: number | null;
    idleTimeout: string;
  };
}

/** The engine's configuration as written in `config.json`: every key may be left out for its default. */
export interface EngineConfigInput {
  orchestrator?: { jobs?: { maxIdentical?: number | null | undefined } | undefined } | undefined;
  container?: { runtime?: ContainerRuntimeSetting | undefined } | undefined;
  snapshot?: { backend?: SnapshotSetting | undefined } | undefined;
  cache?: {
    capacity?: {
      maxBytes?: number | null | undefined;
      reserveBytes?: number | null | undefined;
      highWatermark?: number | undefined;
      lowWatermark?: number | undefined;
      minStateAge?: string | undefined;
    } | undefined;
  } | undefined;
  instances?: {
    ttl?: string | null | undefined;
    collectGrace?: string | undefined;
    max?: number | null | undefined;
  } | undefined;
  liquibase?: { exec?: string | null | undefined } | undefined;
  pool?: {
    size?: number | undefined;
    hotAfter?: number | undefined;
    states?: Record<string, number> | undefined;
    maxIdle?: number | undefined;
    maxIdleMemoryBytes?: number | null | undefined;
    idleTimeout?: string | undefined;
  } | undefined;
}

/** The engine's configuration with every default applied. Unknown keys are refused. */
export const EngineConfig: z.ZodType<EngineConfig, EngineConfigInput> = typed<
  EngineConfig,
  EngineConfigInput
>()(
  z.strictObject({
    orchestrator: z.strictObject({
      jobs: z.strictObject({
        maxIdentical: z.number().int().min(0).nullable().default(2)
          .describe(
            "Finished jobs kept per signature; an older one is deleted only once a client read its final " +
              "status, or it finished more than instances.collectGrace ago and holds no instance; " +
              "0 or null disables trimming",
          ),
      }).prefault({}),
    }).prefault({}),
    container: z.strictObject({
      runtime: z.enum(CONTAINER_RUNTIME_SETTINGS).default("auto")
        .describe("Where PostgreSQL runs; auto = host for host builds, else docker, then podman"),
    }).prefault({}),
    snapshot: z.strictObject({
      backend: z.enum(SNAPSHOT_SETTINGS).default("auto")
        .describe(`How states and instances are snapshotted; auto = ${SNAPSHOT_BACKENDS.join(", then ")}`),
    }).prefault({}),
    cache: z.strictObject({ capacity: CacheCapacityConfig.prefault({}) }).prefault({}),
    instances: z.strictObject({
      ttl: Duration.nullable().default(null).describe(
        "Default lifetime of a prepared instance; null = no limit",
      ),
      collectGrace: Duration.default("10m").describe(
        "A succeeded job's instance is delivered when a client reads the job's status; one no client " +
          "collected within this time after the job finished (e.g. its client died) is deleted",
      ),
      max: z.number().int().min(1).nullable().default(null).describe(
        "At most this many instances (each a server and a clone); a prepare that would make one more is " +
          "refused before it builds anything; null = no limit",
      ),
    }).prefault({}),
    liquibase: z.strictObject({
      exec: z.string().nullable().default(null).describe("Path of the liquibase launcher to use"),
    }).prefault({}),
    pool: PoolConfig.prefault({}),
  }),
);

/** `GET /v1/config?path=` and `PATCH /v1/config` answers. */
export interface ConfigValue {
  path: string;
  value: unknown;
}
/** `GET /v1/config?path=` and `PATCH /v1/config` answers. */
export const ConfigValue: z.ZodType<ConfigValue> = typed<ConfigValue>()(
  z.object({ path: z.string(), value: z.unknown() }),
);

/** `PATCH /v1/config` body. */
export interface ConfigSetRequest {
  path: string;
  value: unknown;
}
/** `PATCH /v1/config` body. */
export const ConfigSetRequest: z.ZodType<ConfigSetRequest> = typed<ConfigSetRequest>()(
  z.strictObject({ path: z.string().min(1), value: z.unknown() }),
);
