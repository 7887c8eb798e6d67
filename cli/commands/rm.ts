/**
 * `rm`: delete an instance, a state (tree with `-r`) or a job, by id prefix, job id or name.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import type { DeleteResult, DeleteTreeNode } from "../../shared/schemas.ts";
import { ApiError } from "../../client/engine_client.ts";
import type { EngineClient } from "../../client/engine_client.ts";
import { SqlrsError } from "../../shared/errors.ts";
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

async function target(
  client: EngineClient,
  ref: string,
): Promise<{ kind: "instances" | "states" | "prepare-jobs"; id: string } | undefined> {
  const found: Array<{ kind: "instances" | "states" | "prepare-jobs"; id: string }> = [];
  if (/^[0-9a-f]{32}$/.test(ref) && (await client.listJobs()).some((job) => job.job_id === ref)) {
    found.push({ kind: "prepare-jobs", id: ref });
  }
  try {
    found.push({ kind: "instances", id: (await client.instance(ref)).instance_id });
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== "not_found") throw error;
  }
  if (/^[0-9a-fA-F]{8,}$/.test(ref)) {
    const states = await client.listStates({ idPrefix: ref });
    if (states.length > 1) {
      throw new SqlrsError(
        "ambiguous",
        `Cannot resolve "${ref}": prefix matches ${states.length} states: ${
          states.map((s) => s.state_id.slice(0, 16)).join(", ")
        }`,
      );
    }
    if (states[0] !== undefined) found.push({ kind: "states", id: states[0].state_id });
  }
  if (found.length > 1) {
    throw new SqlrsError(
      "ambiguous",
      `Cannot resolve "${ref}": it matches ${
        found.map((f) => `${f.kind.replace(/s$/, "").replace("prepare-job", "job")} ${f.id}`).join(" and ")
      }`,
    );
  }
  return found[0];
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
      const found = await target(client, ref);
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
