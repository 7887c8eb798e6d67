/**
 * `status`: the engine, its versions, the store, and which runtimes and snapshot backends work here.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { VERSION } from "../../shared/version.ts";
import type { CliContext } from "../context.ts";
import { humanBytes, out, printJson, snakeCaseKeys } from "../output.ts";

/** `status`. */
export function statusCommand(context: () => CliContext) {
  return new Command("status")
    .description("Show the engine, the store, and the runtimes and snapshot backends available here")
    .option("--cache", "add the state cache's capacity diagnostics and its last eviction")
    .action(async (flags) => {
      const client = await context().client();
      const remote = await context().remote();
      const target = remote === undefined
        ? { kind: "local" as const }
        : { kind: "profile" as const, profile: remote.name, url: remote.address.endpoint };
      const status = await client.status();
      const cache = flags.cache === true ? await client.cacheStatus() : undefined;
      if (context().json) {
        // The engine's status is camelCase; what sqlrs prints is snake_case, like every other listing.
        printJson(snakeCaseKeys({
          ...status,
          endpoint: client.address.endpoint,
          target,
          clientVersion: VERSION,
          ...(cache === undefined ? {} : { cache }),
        }));
        return;
      }
      const containerRuntime = status.runtimes.find((r) => r.selected && r.name !== "host")?.name;
      const lines = [
        `engine:    ${
          status.problems.length === 0 ? "ok" : "running with problems"
        } (pid ${status.pid}, up since ${status.startedAt})`,
        ...status.problems.map((problem) => `problem:   ${problem}`),
        `target:    ${
          target.kind === "local" ? "the local engine" : `profile ${target.profile} (${target.url})`
        }`,
        `endpoint:  ${client.address.endpoint}`,
        `version:   engine ${status.version}, client ${VERSION}`,
        `state dir: ${status.stateDir}`,
        `store:     ${status.storeRoot}`,
        `contents:  ${status.counts.states} states, ${status.counts.instances} instances, ${status.counts.jobs} jobs`,
        `runtimes (* in use: host for host builds${
          containerRuntime === undefined ? "" : `, ${containerRuntime} for container images`
        }):`,
        ...status.runtimes.map((r) =>
          `  ${r.selected ? "*" : " "} ${r.name.padEnd(8)} ${
            r.available ? "available" : "unavailable"
          }: ${r.detail}`
        ),
        `liquibase: ${status.liquibase.available ? "" : "unavailable: "}${status.liquibase.detail}`,
        // The reason repeats the backends' details: only how the backend was chosen goes in the title.
        `snapshot backends (${
          status.snapshotReason.startsWith("auto:")
            ? "chosen automatically"
            : status.snapshotReason.split(";")[0]
        }):`,
        ...status.snapshotBackends.map((b) =>
          `  ${b.selected ? "*" : " "} ${b.name.padEnd(8)} ${
            b.available ? "available" : "unavailable"
          }: ${b.detail}`
        ),
      ];
      if (cache !== undefined) {
        const last = cache.last_eviction;
        lines.push(
          "cache:",
          `  usage:        ${humanBytes(cache.usage_bytes)} (${cache.state_count} states), limit ${
            humanBytes(cache.effective_max_bytes)
          }`,
          `  configured:   max ${
            cache.configured_max_bytes === null ? "store-coupled" : humanBytes(cache.configured_max_bytes)
          }, reserve ${
            humanBytes(cache.reserve_bytes)
          }, watermarks ${cache.low_watermark}/${cache.high_watermark}, min age ${cache.min_state_age}`,
          `  store:        ${humanBytes(cache.store_free_bytes)} free of ${
            humanBytes(cache.store_total_bytes)
          }`,
          `  reclaimable:  ${
            humanBytes(cache.reclaimable_bytes)
          } (${cache.blocked_count} states in use or too young)`,
          `  pressure:     ${cache.pressure_reasons.join(", ") || "none"}`,
          `  last eviction: ${
            last === null
              ? "never"
              : `${last.completed_at} (${last.trigger}): ${last.evicted_count} states, ${
                humanBytes(last.freed_bytes)
              } freed`
          }`,
        );
      }
      out(lines.join("\n"));
    });
}
