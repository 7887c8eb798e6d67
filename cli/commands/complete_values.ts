/**
 * `__complete recipes|instances` (hidden): the words a shell completion offers for a recipe or an
 * instance, one a line. Instances are named and listed only when an engine already runs: pressing
 * Tab never starts one. Errors print nothing; a completion has no place to show them.
 *
 * @module
 */

import { Argument, Command } from "@commander-js/extra-typings";
import { connectEngine } from "../../client/discovery.ts";
import { loadRecipes } from "../../client/recipes.ts";
import { out } from "../output.ts";

/** What the shell may ask for. */
export const COMPLETED_VALUES = ["recipes", "instances"] as const;
/** One of {@link COMPLETED_VALUES}. */
export type CompletedValue = typeof COMPLETED_VALUES[number];

async function words(what: CompletedValue): Promise<string[]> {
  if (what === "recipes") return [...(await loadRecipes(Deno.cwd())).keys()];
  using client = await connectEngine({ engineCommand: [], autostart: false, timeoutMs: 2000 });
  const instances = await client.listInstances();
  return [
    ...instances.flatMap((instance) => instance.name === null ? [] : [instance.name]),
    ...instances.map((instance) => instance.instance_id.slice(0, 12)),
  ];
}

/** `__complete <what>`. */
export function completeValuesCommand() {
  return new Command("__complete")
    .description("Print recipe or instance names for shell completion")
    .addArgument(new Argument("<what>", "recipes or instances").choices(COMPLETED_VALUES))
    .action(async (what) => {
      try {
        const found = await words(what);
        if (found.length > 0) out(found.join("\n"));
      } catch {
        // No workspace, no engine: nothing to offer.
      }
    });
}
