/**
 * `prune`: deletes the instances nobody holds on to. By default those without a name and without a
 * client connected; with `all`, named and connected ones too (their sessions are terminated). An
 * instance whose prepare has not been collected by its client yet is always kept: that client is about
 * to be given its DSN (and `instances.collectGrace` reclaims it if nobody comes).
 *
 * @module
 */

import type { InstanceRow, Registry } from "../registry/registry.ts";
import type { Inventory } from "../inventory/inventory.ts";
import type { PruneEntry, PruneRequest, PruneResult } from "../../shared/schemas.ts";
import { SqlrsError } from "../../shared/errors.ts";

/** What prune needs. */
export interface PruneDeps {
  registry: Registry;
  inventory: Pick<Inventory, "connections" | "deleteInstance">;
  log(line: string): void;
}

/** Whether a client may still be waiting for the instance's DSN (its job was not collected). */
function undelivered(registry: Registry, row: InstanceRow): boolean {
  if (row.job_id === null) return false;
  const job = registry.getJob(row.job_id);
  if (job === undefined) return false;
  return job.status === "queued" || job.status === "running" ||
    (job.status === "succeeded" && job.collected_at === null);
}

/**
 * Deletes an instance: forced with `all`, else a client that connected since the count blocks it. One
 * deleted meanwhile (its TTL passed, a rebind took its name) counts as deleted.
 */
async function deleted(deps: PruneDeps, row: InstanceRow, all: boolean): Promise<"deleted" | "blocked"> {
  try {
    const result = await deps.inventory.deleteInstance(row.instance_id, { force: all, dryRun: false });
    if (result.outcome === "blocked") return "blocked";
  } catch (error) {
    if (!(error instanceof SqlrsError && error.code === "not_found")) throw error;
  }
  deps.log(`prune: deleted instance ${row.instance_id}${row.name === null ? "" : ` (${row.name})`}`);
  return "deleted";
}

/** Deletes (or with `dry_run` lists) the instances `request` selects; answers what went and what stayed. */
export async function pruneInstances(deps: PruneDeps, request: PruneRequest): Promise<PruneResult> {
  const all = request.all === true;
  const dryRun = request.dry_run === true;
  const result: PruneResult = { dry_run: dryRun, deleted: [], kept: [] };
  for (const row of deps.registry.listInstances()) {
    const entry: PruneEntry = {
      instance_id: row.instance_id,
      name: row.name,
      connections: await deps.inventory.connections(row),
      created_at: row.created_at,
      kept: null,
    };
    if (undelivered(deps.registry, row)) entry.kept = "undelivered";
    else if (!all && row.name !== null) entry.kept = "named";
    else if (!all && entry.connections > 0) entry.kept = "connected";
    else if (!dryRun && await deleted(deps, row, all) === "blocked") entry.kept = "connected";
    (entry.kept === null ? result.deleted : result.kept).push(entry);
  }
  return result;
}
