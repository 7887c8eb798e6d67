/**
 * The states of `ls -s`: a tree that indents only where the history branches (a chain of 250 steps
 * stays one column wide), each state with its own step (the file, changeset or `-c` text that made
 * it, and a short hash of that step's arguments) when a job that built or planned it is still known.
 *
 * @module
 */

import type { StateEntry, TaskEntry } from "../../shared/schemas.ts";
import { stepLabel } from "../progress_view.ts";
import { shortId } from "../output.ts";

/** The step that made a state. */
export interface StateStep {
  /** The file (relative to the current directory when under it), changeset id or `-c` text. */
  label: string;
  /** The step's arguments as the engine summarized them. */
  args: string;
  /** 8 hex of the SHA-256 of `args`: steps with the same label and other arguments differ here. */
  hash: string;
}

async function shortHash(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...digest.subarray(0, 4)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The step of each state that a known task produced, by state id. */
export async function stateSteps(tasks: readonly TaskEntry[], cwd: string): Promise<Map<string, StateStep>> {
  const steps = new Map<string, StateStep>();
  for (const task of tasks) {
    if (task.type !== "state_execute" || task.output_state_id === null || task.args_summary === null) {
      continue;
    }
    if (steps.has(task.output_state_id)) continue;
    const args = task.args_summary;
    steps.set(task.output_state_id, {
      label: stepLabel({ args_summary: args, changeset_id: task.changeset_id }, cwd),
      args,
      hash: await shortHash(args),
    });
  }
  return steps;
}

/**
 * States ordered as a tree (parents before children), each child after a `+-` (or `` `- `` for the
 * last). Only where a state has several children do their subtrees move right, so an only child's
 * `` `- `` sits under its parent's: consecutive `` `- `` rows in one column are a chain.
 */
export function stateTree<S extends StateEntry>(states: readonly S[], long: boolean): Array<[string, S]> {
  const byParent = new Map<string | null, S[]>();
  const ids = new Set(states.map((state) => state.state_id));
  for (const state of states) {
    const parent = state.parent_state_id !== null && ids.has(state.parent_state_id)
      ? state.parent_state_id
      : null;
    byParent.set(parent, [...(byParent.get(parent) ?? []), state]);
  }
  const rows: Array<[string, S]> = [];
  function walk(parent: string | null, prefix: string) {
    const children = byParent.get(parent) ?? [];
    const siblings = children.length > 1;
    children.forEach((child, index) => {
      const last = index === children.length - 1;
      const branch = parent === null ? "" : last ? "`-" : "+-";
      rows.push([`${prefix}${branch}${shortId(child.state_id, long)}`, child]);
      walk(child.state_id, parent === null || !siblings ? prefix : `${prefix}${last ? "  " : "| "}`);
    });
  }
  walk(null, "");
  return rows;
}
