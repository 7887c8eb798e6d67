/**
 * `prune`: delete the instances nobody holds on to (see `engine/instances/prune.ts`).
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import type { PruneEntry } from "../../shared/schemas.ts";
import type { CliContext } from "../context.ts";
import { age, out, printJson } from "../output.ts";

const WHY_KEPT: Record<NonNullable<PruneEntry["kept"]>, string> = {
  named: "named (--all deletes it too)",
  connected: "clients connected (--all terminates them)",
  undelivered: "its prepare has not handed it to its client yet",
};

function line(verdict: string, entry: PruneEntry): string {
  const name = entry.name === null ? "" : ` ${entry.name}`;
  return `${verdict} ${entry.instance_id}${name} (${
    age(entry.created_at)
  } old, ${entry.connections} connections)`;
}

/** `prune`. */
export function pruneCommand(context: () => CliContext) {
  return new Command("prune")
    .description("Delete the instances without a name and without clients connected")
    .option("--dry-run", "list what would be deleted, delete nothing")
    .option("--all", "also named instances and instances with clients connected (they are terminated)")
    .action(async (flags) => {
      const dryRun = flags.dryRun === true;
      const result = await (await context().client()).prune({ dry_run: dryRun, all: flags.all === true });
      if (context().json) {
        printJson(result);
        return;
      }
      const lines = [
        ...result.deleted.map((entry) => line(dryRun ? "would delete" : "deleted", entry)),
        ...result.kept.map((entry) => `${line("kept", entry)}: ${WHY_KEPT[entry.kept ?? "named"]}`),
      ];
      const count = result.deleted.length;
      lines.push(
        `${count} instance(s) ${dryRun ? "would be deleted" : "deleted"}, ${result.kept.length} kept`,
      );
      out(lines.join("\n"));
    });
}
