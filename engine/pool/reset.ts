/**
 * `POST /v1/instances/{ref}/reset`: an instance back to the state it was cloned from, behind the same
 * id, name, port and credentials, from a warm instance of the pool when one is ready.
 *
 * @module
 */

import type { Instances } from "../instances/instances.ts";
import type { Inventory } from "../inventory/inventory.ts";
import type { Registry } from "../registry/registry.ts";
import type { StoreLayout } from "../store_layout.ts";
import type { InstanceEntry } from "../../shared/schemas.ts";
import { SqlrsError } from "../../shared/errors.ts";
import type { InstancePool } from "./pool.ts";

/** What a reset needs. */
export interface ResetDeps {
  registry: Registry;
  layout: StoreLayout;
  inventory: Inventory;
  instances: Instances;
  pool: InstancePool;
}

/**
 * Resets the instance `ref` (id, prefix or name) and answers with its entry (its DSN unchanged).
 * @throws {SqlrsError} `not_found` when no instance matches or its state is no longer cached
 */
export async function resetInstance(deps: ResetDeps, ref: string): Promise<InstanceEntry> {
  const { row } = deps.inventory.resolveInstance(ref);
  const state = deps.registry.getState(row.state_id);
  if (state === undefined) {
    throw new SqlrsError(
      "not_found",
      `Cannot reset instance ${row.instance_id}: its state ${row.state_id} is no longer cached`,
      { details: { instance_id: row.instance_id, state_id: row.state_id } },
    );
  }
  const stateDir = deps.layout.stateDir(state.store_dir, state.state_id);
  try {
    await deps.instances.reset(row, stateDir, () => deps.pool.takeWarm(row.state_id));
  } finally {
    deps.pool.refill(row.state_id);
  }
  return (await deps.inventory.getInstance(row.instance_id)).entry;
}
