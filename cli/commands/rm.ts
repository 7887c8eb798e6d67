/**
 * `rm`: delete an instance, a state (tree with `-r`) or a job, by id prefix, job id or name.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import type { DeleteResult, DeleteTreeNode } from "../../shared/schemas.ts";
import { type DeleteTarget, resolveDeleteTarget } from "../../client/resolve.ts";
import { ApiError, type EngineClient } from "../../client/engine_client.ts";
import { EXIT, ExitError } from "../exit_codes.ts";
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

const HINTS: Record<NonNullable<DeleteTreeNode["blocked"]>, string> = {
  active_connections: "clients are connected: close them, or pass -f to terminate them",
  active_tasks: "a running job uses it: wait for the job to end, or cancel it (sqlrs rm <job-id>)",
  has_descendants: "states or instances are built on it: pass -r to delete them too",
  blocked_by_descendant: "something built on it is blocked",
};

/** What to do about the first (deepest) reason a tree is blocked. */
function blockedHint(node: DeleteTreeNode): string | undefined {
  for (const child of node.children ?? []) {
    const hint = blockedHint(child);
    if (hint !== undefined) return hint;
  }
  return node.blocked === undefined ? undefined : `${node.kind} ${node.id}: ${HINTS[node.blocked]}`;
}

/** The instances in a delete tree. */
function instancesIn(node: DeleteTreeNode): string[] {
  const own = node.kind === "instance" ? [node.id] : [];
  return [...own, ...(node.children ?? []).flatMap(instancesIn)];
}

/** The name of a delete target's kind for people. */
function kindName(kind: DeleteTarget["kind"]): string {
  return kind === "prepare-jobs" ? "job" : kind.slice(0, -1);
}

/**
 * As `docker rm` does not stop a running container without `-f`, `rm -r` does not stop the instances
 * of a tree: it asks the engine what it would delete and refuses (exit 4) when instances are in it.
 */
async function refuseRunningInstances(client: EngineClient, target: DeleteTarget): Promise<void> {
  const preview = await client.delete(target.kind, target.id, { dryRun: true, recurse: true });
  const instances = instancesIn(preview.root);
  // A tree blocked anyway (connections, a running job) is reported by the delete itself, with its hint.
  if (instances.length === 0 || preview.outcome === "blocked") return;
  throw new ExitError(
    EXIT.refused,
    `Cannot delete state ${target.id}: ${instances.length} running instance(s) are built on it (${
      instances.map((id) => id.slice(0, 12)).join(", ")
    }); pass -f to stop and delete them too`,
  );
}

/** `rm`. */
export function rmCommand(context: () => CliContext, setExit: (code: number) => void) {
  return new Command("rm")
    .description("Delete an instance, a state or a job (by id, 8+ hex prefix, or name)")
    .argument("<ref>", "instance/state/job id, 8+ hex prefix, or instance name")
    .option("-r, --recurse", "delete a state with everything built on it (its instances only with -f)")
    .option(
      "-f, --force",
      "delete instances even when running or with open connections (they are terminated)",
    )
    .option("--dry-run", "show what would be deleted")
    .action(async (ref, flags) => {
      const client = await context().client();
      const found = await resolveDeleteTarget(client, ref);
      const force = flags.force === true;
      const dryRun = flags.dryRun === true;
      const recurse = flags.recurse === true;
      if (found.kind === "states" && recurse && !force && !dryRun) {
        await refuseRunningInstances(client, found);
      }
      const result = await client.delete(found.kind, found.id, { force, dryRun, recurse }).catch((error) => {
        // The engine refused for safety (409): exit 4 as a blocked tree does, with its reason.
        if (!(error instanceof ApiError) || error.status !== 409) throw error;
        throw new ExitError(
          EXIT.refused,
          `Cannot delete ${kindName(found.kind)} ${found.id}: ${error.message}`,
        );
      });
      if (context().json) printJson(result);
      else out(renderTree(result.root, result.outcome).join("\n"));
      if (result.outcome === "blocked") {
        err(`sqlrs: nothing was deleted; ${blockedHint(result.root) ?? "the delete is blocked"}`);
        setExit(EXIT.refused);
      }
    });
}
