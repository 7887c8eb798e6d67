/**
 * `GET /v1/status`: the engine, its runtimes and snapshot backends.
 *
 * @module
 */

import { z } from "../deps.ts";
import { typed } from "./_typed.ts";
import { Timestamp } from "./common.ts";

/** One runtime or snapshot backend and whether it can work here. */
export interface Capability {
  name: string;
  available: boolean;
  selected: boolean;
  detail: string;
}
/** One runtime or snapshot backend and whether it can work here. */
export const Capability: z.ZodType<Capability> = typed<Capability>()(z.object({
  name: z.string(),
  available: z.boolean(),
  selected: z.boolean(),
  detail: z.string(),
}));

/** `GET /v1/status`. */
export interface EngineStatus {
  ok: boolean;
  version: string;
  pid: number;
  instanceId: string;
  startedAt: string;
  stateDir: string;
  storeRoot: string;
  runtimes: Capability[];
  snapshotBackends: Capability[];
  snapshotReason: string;
  /**
   * What is wrong with the engine's configuration (a snapshot backend that cannot work here, an invalid
   * config file): the engine runs anyway, and what needs the broken part fails with the same reason.
   */
  problems: string[];
  /** The Liquibase that `prepare:lb` would use (path, version), or why there is none. */
  liquibase: { available: boolean; detail: string };
  counts: { states: number; instances: number; jobs: number };
}
/** `GET /v1/status`. */
export const EngineStatus: z.ZodType<EngineStatus> = typed<EngineStatus>()(z.object({
  ok: z.boolean(),
  version: z.string(),
  pid: z.number().int(),
  instanceId: z.string(),
  startedAt: Timestamp,
  stateDir: z.string(),
  storeRoot: z.string(),
  runtimes: z.array(Capability),
  snapshotBackends: z.array(Capability),
  snapshotReason: z.string(),
  problems: z.array(z.string()),
  liquibase: z.object({ available: z.boolean(), detail: z.string() }),
  counts: z.object({ states: z.number().int(), instances: z.number().int(), jobs: z.number().int() }),
}));
