/**
 * `rm`: delete an instance, a state (tree with `-r`) or a job, by id prefix, job id or name.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import type { DeleteResult, DeleteTreeNode } from "../../shared/schemas.ts";
import { resolveDeleteTarget } from "../../client/resolve.ts";
import type { CliContext } from "../context.ts";
import { err, out, printJson } from "../output.ts";

function renderTree(node: DeleteTreeNode, outcome: DeleteResult["outcome"], prefix = ""): string[] {
  const verdict = node.blocked !== undefined
    ? `blocked (${node.blocked})`
    : outcome === "deleted"
    ? "deleted"
    : outcome === "would_delete"
    ? "would delete"
    : "not deleted";
  const connections = node.connections === undefined ? "" : ` connections=${node.connections}`;
  const lines = [`${prefix}${node.kind} ${node.id}${connections}: ${verdict}`];
  for (const child of node.children ?? []) lines.push(...renderTree(child, outcome, `${prefix}  `));
  return lines;
}

/** `rm`. */
export function rmCommand(context: () => CliContext, setExit: (code: number) => void) {
  return new Command("rm")
    .description("Delete an instance, a state or a job (by id, 8+ hex prefix, or name)")
    .argument("<ref>", "instance/state id prefix, job id, or name")
    .option("-r, --recurse", "delete a state with everything built on it")
    .option("-f, --force", "delete even instances with open connections (they are terminated)")
    .option("--dry-run", "show what would be deleted")
    .action(async (ref, flags) => {
      const client = await context().client();
      const found = await resolveDeleteTarget(client, ref);
      if (found === undefined) {
        err(`warning: nothing matches "${ref}"`);
        return;
      }
      const result = await client.delete(found.kind, found.id, {
        force: flags.force === true,
        dryRun: flags.dryRun === true,
        recurse: flags.recurse === true,
      });
      if (context().json) printJson(result);
      else out(renderTree(result.root, result.outcome).join("\n"));
      if (result.outcome === "blocked") setExit(4);
    });
}
