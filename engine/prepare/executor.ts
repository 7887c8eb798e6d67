/**
 * Executes a plan: for each uncached step, a server on a clone of the step's input runs the step, stops
 * cleanly, and the data directory is snapshotted into a new state. A state is built under a temporary
 * name and published by rename, then recorded; two jobs needing the same state build it once.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import type { Registry } from "../registry/registry.ts";
import type { ResolvedImage, Runtime, ServerHandle } from "../runtime/types.ts";
import type { StateFS } from "../statefs/types.ts";
import { type StoreLayout, temporarySibling } from "../store_layout.ts";
import { KeyedMutex } from "../single_flight.ts";
import type { Base, Bases } from "./bases.ts";
import type { Plan, PlannedStep } from "./planner.ts";
import type { TaskStatusValue } from "../../shared/schemas.ts";
import { SqlrsError } from "../../shared/errors.ts";
import { randomHex } from "../../shared/random.ts";

/** How a running job reports progress. */
export interface JobReporter {
  readonly jobId: string;
  log(taskId: string | undefined, message: string): void;
  task(taskId: string, status: Exclude<TaskStatusValue, "queued">, message?: string): void;
}

/** Milliseconds between successive marks: the step's timing line, which says where a slow step went. */
class PhaseClock {
  #last = performance.now();
  readonly #parts: string[] = [];
  mark(phase: string): void {
    const now = performance.now();
    this.#parts.push(`${phase} ${(now - this.#last).toFixed(0)} ms`);
    this.#last = now;
  }
  toString(): string {
    return this.#parts.join(", ");
  }
}

/** The job's build area: a clone of some input, and the server on it while one runs. */
interface Workspace {
  /** Clone path under `jobs/<id>/runtime` (what statefs.remove takes). */
  clonePath: string;
  runDir: string;
  /** The data dir and which state or base its content equals, once cloned. */
  dataDir: string | null;
  contentId: string | null;
  server: ServerHandle | null;
}

/** Dependencies of the executor. */
export interface ExecutorDeps {
  registry: Registry;
  layout: StoreLayout;
  statefs: StateFS;
  bases: Bases;
  /** Makes room for a new state (throws when it cannot), and trims the cache after one is published. */
  capacity: { admit(bytes: number): Promise<void>; enforce(trigger: string): Promise<unknown> };
}

/** Name prefix of a state directory discarded while live instances still use it. */
const DISCARDED = ".discarded-";

/** The subdirectories of `dir` (none when it does not exist). */
async function subdirectories(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).filter((entry) => entry.isDirectory).map((entry) =>
      join(dir, entry.name)
    );
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** Whether a state's data directory was cleanly shut down: PG_VERSION there, postmaster.pid not. */
function isCompleteState(path: string): boolean {
  try {
    if (!Deno.statSync(join(path, "PG_VERSION")).isFile) return false;
  } catch {
    return false;
  }
  try {
    // A clean shutdown removes postmaster.pid; its presence means the state was taken from a live server.
    Deno.statSync(join(path, "postmaster.pid"));
    return false;
  } catch {
    return true;
  }
}

/** Builds the states of a plan. */
export class Executor {
  readonly #deps: ExecutorDeps;
  readonly #mutex = new KeyedMutex();

  constructor(deps: ExecutorDeps) {
    this.#deps = deps;
  }

  /** Whether a published state exists and is complete on disk: what `plan` reports as cached. */
  stateCached(stateId: string): boolean {
    const row = this.#deps.registry.getState(stateId);
    return row !== undefined && isCompleteState(this.#deps.layout.stateDir(row.store_dir, stateId));
  }

  /** Whether a published, complete state exists; an incomplete one is discarded so it gets rebuilt. */
  async stateReady(stateId: string): Promise<boolean> {
    if (this.stateCached(stateId)) return true;
    const row = this.#deps.registry.getState(stateId);
    if (row === undefined) return false;
    const path = this.#deps.layout.stateDir(row.store_dir, stateId);
    try {
      await this.#deps.statefs.remove(path);
    } catch (error) {
      if (!(error instanceof SqlrsError && error.code === "conflict")) throw error;
      // Clones of live instances use it as their lower layer (overlay), so it cannot go yet: moved
      // aside, where they keep working on it, and removed once no instance of the state is left.
      await Deno.rename(path, join(dirname(path), `${DISCARDED}${stateId}-${randomHex(4)}`));
    }
    this.#deps.registry.deleteState(stateId);
    return false;
  }

  /** Removes the states discarded while live instances used them (see stateReady) that none uses now. */
  async removeDiscarded(): Promise<void> {
    const { layout, registry, statefs } = this.#deps;
    for (const engine of await subdirectories(join(layout.root, "engines"))) {
      for (const version of await subdirectories(engine)) {
        for (const dir of await subdirectories(join(version, "states"))) {
          const name = basename(dir);
          if (!name.startsWith(DISCARDED)) continue;
          const stateId = name.slice(DISCARDED.length, DISCARDED.length + 64);
          if (registry.instancesOfState(stateId).length === 0) await statefs.remove(dir);
        }
      }
    }
  }

  /** Runs `fn` against a server on a throwaway clone of the base of `image` (Liquibase planning). */
  async withBaseServer<T>(
    runtime: Runtime,
    image: ResolvedImage,
    fn: (runtime: Runtime, server: ServerHandle) => Promise<T>,
  ): Promise<T> {
    const { layout, statefs } = this.#deps;
    const base = await this.#deps.bases.ensure(runtime, image, () => {});
    const dir = join(layout.root, "jobs", `.plan-${crypto.randomUUID()}`);
    await Deno.mkdir(join(dir, "run"), { recursive: true });
    try {
      const dataDir = await statefs.clone(base.path, join(dir, "data"));
      const server = await runtime.start(image, dataDir, base.password, { runDir: join(dir, "run") });
      try {
        return await fn(runtime, server);
      } finally {
        await runtime.stop(server);
      }
    } finally {
      await statefs.remove(join(dir, "data"));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }

  /** Builds every missing state of `plan`; resolves with the final state's directory and the base password. */
  async buildStates(
    runtime: Runtime,
    plan: Plan,
    reporter: JobReporter,
    signal: AbortSignal,
  ): Promise<{ stateDir: string; base: Base }> {
    const { layout, statefs } = this.#deps;
    const base = await this.#deps.bases.ensure(
      runtime,
      plan.image,
      (line) => reporter.log("resolve-image", line),
    );
    const jobDir = layout.jobDir(reporter.jobId);
    const workspace: Workspace = {
      clonePath: join(jobDir, "runtime"),
      runDir: join(jobDir, "run"),
      dataDir: null,
      contentId: null,
      server: null,
    };
    await Deno.mkdir(workspace.runDir, { recursive: true });
    try {
      for (const step of plan.steps) {
        signal.throwIfAborted();
        await this.#mutex.run(step.outputStateId, async () => {
          if (await this.stateReady(step.outputStateId)) {
            reporter.task(step.taskId, "skipped", "cached");
            return;
          }
          reporter.task(step.taskId, "running");
          await this.#executeStep(runtime, plan, step, base, workspace, reporter, signal);
          reporter.task(step.taskId, "succeeded");
        });
      }
    } finally {
      if (workspace.server !== null) await runtime.stop(workspace.server);
      await statefs.remove(workspace.clonePath);
      await Deno.remove(jobDir, { recursive: true }).catch(() => {});
    }
    const finalDir = plan.steps.length === 0
      ? base.path
      : layout.stateDir(plan.image.storeDir, plan.finalStateId);
    return { stateDir: finalDir, base };
  }

  async #executeStep(
    runtime: Runtime,
    plan: Plan,
    step: PlannedStep,
    base: Base,
    workspace: Workspace,
    reporter: JobReporter,
    signal: AbortSignal,
  ): Promise<void> {
    const { layout, statefs, registry } = this.#deps;
    const clock = new PhaseClock();
    const source = step.inputKind === "image"
      ? base.path
      : layout.stateDir(plan.image.storeDir, step.inputId);
    if (workspace.contentId !== step.inputId) {
      await statefs.remove(workspace.clonePath);
      workspace.dataDir = await statefs.clone(source, workspace.clonePath);
      workspace.contentId = step.inputId;
      clock.mark("clone");
    }
    const dataDir = workspace.dataDir as string;
    workspace.server = await runtime.start(plan.image, dataDir, base.password, {
      runDir: workspace.runDir,
      signal,
      // What the step reads, for runtimes that must mount it (containers).
      mounts: [plan.workDir, ...Object.keys(step.inputs.files).map((file) => dirname(file))],
    });
    // From here the data directory no longer equals its input, whatever happens.
    workspace.contentId = null;
    clock.mark("start");
    await step.action.run({
      runtime,
      image: plan.image,
      server: workspace.server,
      reporter,
      taskId: step.taskId,
      workDir: plan.workDir,
      signal,
    });
    clock.mark("run");
    await runtime.stop(workspace.server);
    workspace.server = null;
    clock.mark("stop");
    await step.action.verifyUnchanged();

    const statePath = layout.stateDir(plan.image.storeDir, step.outputStateId);
    const building = temporarySibling(statePath);
    await Deno.mkdir(layout.statesDir(plan.image.storeDir), { recursive: true });
    await statefs.remove(statePath);
    // The step started from `source`: what it did not write is shared with it, and not counted twice.
    await statefs.snapshot(dataDir, building, { previous: source });
    clock.mark("snapshot");
    const sizeBytes = await statefs.ownBytes(building, source);
    try {
      await this.#deps.capacity.admit(sizeBytes);
    } catch (error) {
      await statefs.remove(building);
      throw error;
    }
    await Deno.rename(building, statePath);
    registry.insertState({
      state_id: step.outputStateId,
      parent_state_id: step.inputKind === "state" ? step.inputId : null,
      image_id: plan.image.imageId,
      store_dir: plan.image.storeDir,
      prepare_kind: plan.prepareKind,
      prepare_args_normalized: plan.argsNormalized,
      size_bytes: sizeBytes,
      inputs: step.inputs,
    });
    workspace.contentId = step.outputStateId;
    clock.mark("publish");
    reporter.log(step.taskId, `took ${clock}`);
    await this.#deps.capacity.enforce("post_snapshot");
  }
}
