/**
 * Retention of finished prepare jobs.
 *
 * @module
 */

import type { Registry } from "../registry/registry.ts";
import type { ConfigStore } from "../config/config_store.ts";
import { parseDuration } from "../../shared/duration.ts";

/**
 * Keeps the newest `orchestrator.jobs.maxIdentical` finished jobs of a signature, and of the older
 * ones deletes only those no client may still need: collected ones (a client read the final status),
 * and ones that finished more than `instances.collectGrace` ago and hold no instance.
 */
export function trimIdentical(
  signature: string | null,
  deps: { registry: Registry; config: ConfigStore; log(line: string): void },
): void {
  const keep = deps.config.effective.orchestrator.jobs.maxIdentical;
  if (keep === null || keep === 0 || signature === null) return;
  const registry = deps.registry;
  const abandonedBefore = Date.now() - parseDuration(deps.config.effective.instances.collectGrace);
  for (const old of registry.olderFinishedJobs(signature, keep)) {
    const abandoned = Date.parse(old.ended_at) < abandonedBefore &&
      registry.instancesOfJob(old.job_id).length === 0;
    if (old.collected_at === null && !abandoned) continue;
    registry.deleteJob(old.job_id);
    deps.log(
      `retention: deleted job ${old.job_id} (${old.collected_at === null ? "abandoned" : "collected"}, ` +
        `more than ${keep} finished jobs with its signature)`,
    );
  }
}
