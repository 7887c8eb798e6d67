/**
 * `ls`: names, instances, states (as a tree), jobs and tasks, as aligned tables or JSON.
 *
 * @module
 */

import type { PrepareKindName } from "../../shared/prepare_kinds.ts";
import { Command } from "@commander-js/extra-typings";
import type {
  InstanceEntry,
  NameEntry,
  PrepareJobEntry,
  StateEntry,
  TaskEntry,
} from "../../shared/schemas.ts";
import type { CliContext } from "../context.ts";
import { loadRecipes, type Recipe } from "../../client/recipes.ts";
import { argsSummary } from "../../shared/args_summary.ts";
import { age, humanBytes, out, outputWidth, printJson, relativeTime, shortId, table } from "../output.ts";
import { type StateStep, stateSteps, stateTree } from "./ls_states.ts";

interface Selection {
  recipes: boolean;
  names: boolean;
  instances: boolean;
  states: boolean;
  jobs: boolean;
  tasks: boolean;
}

/**
 * A job's arguments at a glance, where the whole string can be 17 KB: up to its first step, and how
 * many steps (`-f`/`-c`) it has (`-f a.sql … (163 steps)`).
 */
export function argsOverview(args: string): string {
  const steps = args.match(/(?:^| )-[fc] /g)?.length ?? 0;
  if (steps <= 1) return args;
  const first = /^(.*?)(?= -[fc] )/.exec(args)?.[1] ?? args;
  return `${first} … (${steps} steps)`;
}

/** A recipe as `ls --recipes` shows it (JSON keys in snake_case like the API's). */
interface RecipeEntry {
  recipe: string;
  kind: PrepareKindName;
  args: string[];
  image: string | null;
  name: string | null;
  deadline: string | null;
  statement_timeout: string | null;
}

function recipeEntries(recipes: Map<string, Recipe>): RecipeEntry[] {
  return [...recipes.values()].map((recipe) => ({
    recipe: recipe.name,
    kind: recipe.kind,
    args: recipe.args,
    image: recipe.image ?? null,
    name: recipe.instanceName ?? null,
    deadline: recipe.deadline ?? null,
    statement_timeout: recipe.statementTimeout ?? null,
  }));
}

/** `ls`. */
export function lsCommand(context: () => CliContext) {
  return new Command("ls")
    .description("List names, instances, states, jobs and tasks (default: names and instances)")
    .option("-n, --names", "names")
    .option("-i, --instances", "instances")
    .option("-s, --states", "states, as a tree")
    .option("-j, --jobs", "prepare jobs")
    .option("-t, --tasks", "tasks of jobs")
    .option("-r, --recipes", "the workspace's recipes (.sqlrs/config.yaml)")
    .option("-a, --all", "everything")
    .option("-q, --quiet", "no section titles")
    .option("--no-header", "no column headers")
    .option("-l, --long", "full ids, absolute times and the instances' DSNs")
    .option("--job <job-id>", "tasks of this job only")
    .option("--instance <id>", "instances with this id or id prefix")
    .option("--state <id>", "states (and instances) with this id or id prefix")
    .option("--name <name>", "this name only")
    .option("--signature", "add the jobs' SIGNATURE column")
    .option("--cache-details", "add the states' LAST_USED and USE_COUNT columns")
    .action(async (flags) => {
      const all = flags.all === true;
      const explicit = flags.names || flags.instances || flags.states || flags.jobs || flags.tasks ||
        flags.recipes;
      const select: Selection = {
        recipes: all || flags.recipes === true,
        names: all || flags.names === true || !explicit,
        instances: all || flags.instances === true || !explicit,
        states: all || flags.states === true,
        jobs: all || flags.jobs === true,
        tasks: all || flags.tasks === true,
      };
      const data: {
        recipes?: RecipeEntry[];
        names?: NameEntry[];
        instances?: InstanceEntry[];
        states?: Array<StateEntry & { step: StateStep | null }>;
        jobs?: PrepareJobEntry[];
        tasks?: TaskEntry[];
      } = {};
      if (select.recipes) data.recipes = recipeEntries(await loadRecipes(Deno.cwd()));
      // Recipes alone need no engine.
      const client = select.names || select.instances || select.states || select.jobs || select.tasks
        ? await context().client()
        : undefined;
      const byPrefix = (id: string, prefix: string | undefined) =>
        prefix === undefined || id.startsWith(prefix.toLowerCase());
      if (client !== undefined && select.names) {
        data.names = (await client.listNames()).filter((n) =>
          flags.name === undefined || n.name === flags.name
        );
      }
      if (client !== undefined && select.instances) {
        data.instances = (await client.listInstances()).filter((i) =>
          byPrefix(i.instance_id, flags.instance) && byPrefix(i.state_id, flags.state) &&
          (flags.name === undefined || i.name === flags.name)
        );
      }
      let steps = new Map<string, StateStep>();
      if (client !== undefined && select.states) {
        const states = (await client.listStates()).filter((st) => byPrefix(st.state_id, flags.state));
        steps = await stateSteps(await client.listTasks(), Deno.cwd());
        data.states = states.map((state) => ({ ...state, step: steps.get(state.state_id) ?? null }));
      }
      if (client !== undefined && select.jobs) data.jobs = await client.listJobs();
      if (client !== undefined && select.tasks) data.tasks = await client.listTasks(flags.job);
      if (context().json) {
        printJson(data);
        return;
      }
      const long = flags.long === true;
      const time = (iso: string | null) => long ? iso ?? "-" : relativeTime(iso);
      const header = flags.header !== false;
      const maxWidth = long ? undefined : outputWidth();
      const sections: Array<[string, string[], string[][]]> = [];
      if (data.recipes) {
        sections.push([
          "Recipes",
          ["RECIPE", "KIND", "IMAGE", "NAME", "ARGS"],
          data.recipes.map((r) => [r.recipe, r.kind, r.image ?? "-", r.name ?? "-", argsSummary(r.args)]),
        ]);
      }
      if (data.names) {
        sections.push([
          "Names",
          ["NAME", "INSTANCE_ID", "IMAGE_ID", "STATE_ID", "STATUS", "LAST_USED"],
          data.names.map((
            n,
          ) => [
            n.name,
            shortId(n.instance_id, long),
            n.image_id,
            shortId(n.state_id, long),
            n.status,
            time(n.last_used_at),
          ]),
        ]);
      }
      if (data.instances) {
        sections.push([
          "Instances",
          [
            "INSTANCE_ID",
            "NAME",
            "STATUS",
            "PORT",
            "AGE",
            "EXPIRES",
            "STATE_ID",
            "IMAGE_ID",
            ...(long ? ["DSN"] : []),
          ],
          data.instances.map((i) => [
            shortId(i.instance_id, long),
            i.name ?? "-",
            i.status,
            String(i.port),
            age(i.created_at),
            time(i.expires_at),
            shortId(i.state_id, long),
            i.image_id,
            ...(long ? [i.dsn] : []),
          ]),
        ]);
      }
      if (data.states) {
        // The step that made each state; with --long its full arguments, and the whole prepare's.
        const stepText = (step: StateStep | null, args: string) =>
          step === null
            ? long ? `(job gone) ${args}` : "-"
            : long
            ? `${step.label} #${step.hash}: ${step.args} (prepare: ${args})`
            : `${step.label} #${step.hash}`;
        sections.push([
          "States",
          ["STATE_ID", "IMAGE_ID", "KIND", "CREATED", "SIZE", "REFCOUNT", "STEP"],
          stateTree(data.states, long).map(([id, s]) => [
            id,
            s.image_id,
            s.prepare_kind,
            time(s.created_at),
            humanBytes(s.size_bytes),
            String(s.refcount),
            stepText(s.step, s.prepare_args_normalized),
          ]),
        ]);
      }
      if (data.jobs) {
        sections.push([
          "Jobs",
          ["JOB_ID", "STATUS", "KIND", "IMAGE_ID", "PLAN_ONLY", "CREATED", "FINISHED", "PREPARE_ARGS"],
          data.jobs.map((j) => [
            j.job_id,
            j.status,
            j.prepare_kind,
            j.image_id,
            String(j.plan_only),
            time(j.created_at),
            time(j.finished_at),
            long ? j.prepare_args_normalized : argsOverview(j.prepare_args_normalized),
          ]),
        ]);
      }
      if (data.tasks) {
        sections.push([
          "Tasks",
          ["TASK_ID", "JOB_ID", "TYPE", "STATUS", "INPUT", "ARGS", "OUTPUT_ID", "CACHED"],
          data.tasks.map((
            t,
          ) => [
            t.task_id,
            t.job_id,
            t.type,
            t.status,
            t.input === null ? "-" : `${t.input.kind === "image" ? "i" : "s"}:${shortId(t.input.id, long)}`,
            t.args_summary ?? "-",
            shortId(t.output_state_id, long),
            t.cached === null ? "-" : String(t.cached),
          ]),
        ]);
      }
      const blocks = sections.map(([title, headers, rows]) => {
        const body = rows.length === 0 ? "(none)" : table(headers, rows, { header, maxWidth });
        return flags.quiet ? body : `${title}\n${body}`;
      });
      out(blocks.join("\n\n"));
    });
}
