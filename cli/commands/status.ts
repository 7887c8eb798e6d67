/**
 * `status`: the engine, its versions, the store, and which runtimes and snapshot backends work here.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { VERSION } from "../../shared/version.ts";
import type { CliContext } from "../context.ts";
import { out, printJson } from "../output.ts";

/** `status`. */
export function statusCommand(context: () => CliContext) {
  return new Command("status")
    .description("Show the engine, the store, and the runtimes and snapshot backends available here")
    .action(async () => {
      const client = await context().client();
      const status = await client.status();
      if (context().json) {
        printJson({ ...status, endpoint: client.address.endpoint, clientVersion: VERSION });
        return;
      }
      const lines = [
        `engine:    ok (pid ${status.pid}, up since ${status.startedAt})`,
        `endpoint:  ${client.address.endpoint}`,
        `version:   engine ${status.version}, client ${VERSION}`,
        `state dir: ${status.stateDir}`,
        `store:     ${status.storeRoot}`,
        `contents:  ${status.counts.states} states, ${status.counts.instances} instances, ${status.counts.jobs} jobs`,
        "runtimes:",
        ...status.runtimes.map((r) =>
          `  ${r.selected ? "*" : " "} ${r.name.padEnd(8)} ${
            r.available ? "available" : "unavailable"
          }: ${r.detail}`
        ),
        `snapshot backends (${status.snapshotReason}):`,
        ...status.snapshotBackends.map((b) =>
          `  ${b.selected ? "*" : " "} ${b.name.padEnd(8)} ${
            b.available ? "available" : "unavailable"
          }: ${b.detail}`
        ),
      ];
      out(lines.join("\n"));
    });
}
