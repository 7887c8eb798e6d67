/**
 * `reset`: an instance back to the state it was prepared from, behind the same DSN.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../context.ts";
import { out, printJson } from "../output.ts";

/** `reset <instance>`. */
export function resetCommand(context: () => CliContext) {
  return new Command("reset")
    .description(
      "Discard every change of an instance: it returns to its state with the same name, port and credentials",
    )
    .argument("<instance>", "instance id, 8+ hex prefix, or name")
    .action(async (ref) => {
      const ctx = context();
      const entry = await (await ctx.client()).resetInstance(ref);
      if (ctx.json) printJson(entry);
      else out(`DSN=${entry.dsn}`);
    });
}
