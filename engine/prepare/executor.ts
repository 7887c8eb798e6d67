/**
 * Executes a plan: from the last step whose state exists, one server on a clone of that state runs the
 * remaining steps; it stops cleanly where a state is kept (see keep_policy.ts), and the data directory
 * is snapshotted into a new state, published through `states/` (temporary name, admission, rename,
 * record); two jobs needing the same state build it once.
 *
 * Why stop even on btrfs, whose snapshots are atomic: a snapshot of a running cluster, even right
 * after CHECKPOINT, has pg_control "in production" and a postmaster.pid, so the server that starts on
 * it replays WAL (crash recovery), which a state must never need (DESIGN §5). A clean stop costs
 * 20-90 ms, paid only where a state is kept (about three times in a cold 150-step series).
 *
 * @module
 */

import { prepareKind } from "./kinds.ts";
import { dirname, join } from "node:path";
import type { Registry } from "../registry/registry.ts";
import type { ResolvedImage, Runtime, ServerHandle } from "../runtime/types.ts";
import type { StateFS, Volume } from "../statefs/types.ts";
import type { StoreLayout } from "../store_layout.ts";
import type { States } from "../states/states.ts";
import { KeyedMutex } from "../single_flight.ts";
import type { Base, Bases } from "./bases.ts";
import { dropBuildPassword, setBuildPassword } from "../instances/credentials.ts";
import type { Plan, PlannedStep } from "./planner.ts";
import { KeepPolicy } from "./keep_policy.ts";
import { keptStateInputs } from "../cache/unkept_steps.ts";
import { messageOf, SqlrsError } from "../../shared/errors.ts";
import type { TaskStatusValue } from "../../shared/schemas.ts";

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
  /** The clone's volume and which state or base its content equals, once cloned. */
  volume: Volume | null;
  contentId: string | null;
  server: ServerHandle | null;
}

/** What every phase of one job's build uses. */
interface Build {
  runtime: Runtime;
  plan: Plan;
  base: Base;
  workspace: Workspace;
  reporter: JobReporter;
  signal: AbortSignal;
  policy: KeepPolicy;
}

/** Dependencies of the executor. */
export interface ExecutorDeps {
  registry: Registry;
  layout: StoreLayout;
  /** Clones inputs and removes build areas; states themselves go through `states`. */
  statefs: StateFS;
  states: States;
  bases: Bases;
  /** Makes room for a new state (throws when it cannot), and trims the cache after one is published. */
  capacity: { admit(bytes: number): Promise<void>; enforce(trigger: string): Promise<unknown> };
}

/** Removes a job's build area (its server, if any, is stopped already). */
async function removeWorkspace(statefs: StateFS, workspace: Workspace, jobDir: string): Promise<void> {
  await statefs.remove(workspace.clonePath);
  await Deno.remove(jobDir, { recursive: true }).catch(() => {});
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
    return this.#deps.states.isComplete(stateId);
  }

  /**
   * The directory of a plan's final state when the plan found it kept (its last step is cached and
   * not merely part of a later state), so that a hand-out needs no build; else undefined.
   */
  keptFinalState(plan: Plan): string | undefined {
    const last = plan.steps.at(-1);
    if (last === undefined || !last.cached || last.includedIn !== undefined) return undefined;
    return this.#deps.states.path(plan.image.storeDir, plan.finalStateId);
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
      const volume = await statefs.clone(base.path, join(dir, "data"));
      const server = await runtime.start(image, volume, { runDir: join(dir, "run"), scratch: true });
      try {
        // Liquibase plans over JDBC; the clone is thrown away, password and all.
        return await fn(runtime, await setBuildPassword(server));
      } finally {
        await runtime.stop(server);
      }
    } finally {
      await statefs.remove(join(dir, "data"));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }

  /**
   * Builds every missing kept state of `plan`: resumes after the last step whose state exists, runs the
   * rest on one server (one tool process per run of steps, see {@link KeepPolicy}) and stops it only to
   * keep a state. Resolves with the final state's directory, the base, and the build area's
   * removal: started already (call `removeWorkspace` and await it before the job ends), unless the build
   * area's clone is offered as `spareClone`.
   *
   * `spareClone`: where the backend can move a clone ({@link StateFS.adopt}) and the build area ends
   * holding the final state's content (its server stopped cleanly), that clone, for the instance to
   * take instead of copying the state again; on the copy backend that copy was a third of a one-step
   * prepare. Whatever is not taken is removed by `removeWorkspace`.
   *
   * Single flight: a job holds the key of the first step it is about to run until it has kept a state
   * and taken the key of the step after it; a job waiting for that key then resumes after what the
   * other built. Keys are taken from ancestor to descendant only, so holding two cannot deadlock.
   */
  async buildStates(
    runtime: Runtime,
    plan: Plan,
    reporter: JobReporter,
    signal: AbortSignal,
  ): Promise<{ stateDir: string; base: Base; spareClone?: string; removeWorkspace(): Promise<void> }> {
    const { layout, statefs } = this.#deps;
    const base = await this.#deps.bases.ensure(
      runtime,
      plan.image,
      (line) => reporter.log("resolve-image", line),
    );
    // A cache hit (every warm prepare) makes no build area: creating and removing one costs more than
    // the rest of a hand-out from the pool.
    const first = await this.#resumeFrom(plan, 0, reporter);
    if (first === plan.steps.length) {
      const stateDir = first === 0
        ? base.path
        : this.#deps.states.path(plan.image.storeDir, plan.finalStateId);
      return { stateDir, base, removeWorkspace: () => Promise.resolve() };
    }
    const jobDir = layout.jobDir(reporter.jobId);
    const workspace: Workspace = {
      clonePath: join(jobDir, "runtime"),
      runDir: join(jobDir, "run"),
      volume: null,
      contentId: null,
      server: null,
    };
    await Deno.mkdir(workspace.runDir, { recursive: true });
    const policy = new KeepPolicy(plan.steps.length, plan.toolStartMs);
    let held: (() => void) | null = null;
    let workspaceRemoved: Promise<void> | undefined;
    let spareClone: string | undefined;
    try {
      let next = first;
      while (next < plan.steps.length) {
        signal.throwIfAborted();
        const release = await this.#mutex.acquire((plan.steps[next] as PlannedStep).outputStateId);
        held?.();
        held = release;
        // Another job may have built some of it while this one waited.
        const resumed = await this.#resumeFrom(plan, next, reporter);
        if (resumed !== next) {
          next = resumed;
          continue;
        }
        const build = { runtime, plan, base, workspace, reporter, signal, policy };
        next = await this.#runToKeptState(build, next);
      }
      const remove = () =>
        removeWorkspace(statefs, workspace, jobDir).catch((error) =>
          reporter.log(undefined, `could not remove the build area ${jobDir}: ${messageOf(error)}`)
        );
      if (statefs.adopt !== undefined && workspace.contentId === plan.finalStateId) {
        spareClone = workspace.clonePath;
        // Removed once the instance took the clone (or did not): see removeWorkspace below.
        workspaceRemoved = Promise.resolve();
      } else {
        // The build area holds everything the steps wrote (removing it takes up to a second on overlay
        // and copy): on success the caller starts the instance meanwhile and awaits this before it
        // ends. A failure here leaves only a leftover, which the next engine start sweeps: log it,
        // never reject (nothing awaits this promise until the instance is up).
        workspaceRemoved = remove();
      }
      const removed = workspaceRemoved;
      const stateDir = plan.steps.length === 0
        ? base.path
        : this.#deps.states.path(plan.image.storeDir, plan.finalStateId);
      return {
        stateDir,
        base,
        ...(spareClone === undefined ? {} : { spareClone }),
        removeWorkspace: () => spareClone === undefined ? removed : remove(),
      };
    } finally {
      held?.();
      if (workspaceRemoved === undefined) {
        if (workspace.server !== null) await runtime.stop(workspace.server);
        await removeWorkspace(statefs, workspace, jobDir);
      }
    }
  }

  /**
   * The index of the first step to run from `from` on: the one after the last step whose state is
   * ready. Reports the steps it skips: cached, or not kept (their result is part of a later state).
   */
  async #resumeFrom(plan: Plan, from: number, reporter: JobReporter): Promise<number> {
    for (let last = plan.steps.length - 1; last >= from; last--) {
      const cached = plan.steps[last] as PlannedStep;
      if (!(await this.#deps.states.ensureReady(cached.outputStateId))) continue;
      for (const step of plan.steps.slice(from, last)) {
        if (this.#deps.registry.getState(step.outputStateId) !== undefined) {
          reporter.task(step.taskId, "skipped", "cached");
        } else {
          reporter.task(step.taskId, "skipped", `not kept: part of the cached state of ${cached.taskId}`);
        }
      }
      reporter.task(cached.taskId, "skipped", "cached");
      return last + 1;
    }
    return from;
  }

  /**
   * Runs steps from `from` on one server until the policy keeps a state, publishes that state and
   * resolves with the index after it. The server is stopped cleanly before the snapshot.
   */
  async #runToKeptState(build: Build, from: number): Promise<number> {
    const { runtime, plan, workspace, reporter, signal, policy } = build;
    const { statefs } = this.#deps;
    const clock = new PhaseClock();
    const first = plan.steps[from] as PlannedStep;
    if (workspace.contentId !== first.inputId) {
      await statefs.remove(workspace.clonePath);
      workspace.volume = await statefs.clone(this.#inputPath(build, first), workspace.clonePath);
      workspace.contentId = first.inputId;
      clock.mark("clone");
    }
    const volume = workspace.volume as Volume;
    const rest = plan.steps.slice(from);
    const startedAt = performance.now();
    workspace.server = await runtime.start(plan.image, volume, {
      runDir: workspace.runDir,
      // A build area: what is kept of it is made durable by the snapshot.
      scratch: true,
      signal,
      // What the steps read, for runtimes that must mount it (containers).
      mounts: [
        ...new Set([
          plan.workDir,
          ...rest.flatMap((step) => Object.keys(step.inputs.files).map((f) => dirname(f))),
        ]),
      ],
    });
    if (prepareKind(plan.prepareKind).buildPassword === true) {
      workspace.server = await setBuildPassword(workspace.server);
    }
    const startMs = performance.now() - startedAt;
    // From here the data directory no longer equals its input, whatever happens.
    workspace.contentId = null;
    clock.mark("start");
    let index = from;
    for (;;) {
      const run = plan.steps.slice(index, index + policy.nextRun(index));
      const ranAt = performance.now();
      await this.#runSteps(build, workspace.server, run);
      const ranMs = performance.now() - ranAt;
      clock.mark(run.length === 1 ? "run" : `run ${run.length} steps`);
      for (const step of run) await step.action.verifyUnchanged();
      const last = run[run.length - 1] as PlannedStep;
      const kept = policy.ran(index + run.length - 1, run.length, ranMs);
      for (const step of run) {
        if (step !== last || !kept) reporter.task(step.taskId, "succeeded", "not kept");
      }
      index += run.length;
      if (!kept) continue;
      const keepAt = performance.now();
      // A cached state holds no password: it would open every instance cloned from it.
      if (workspace.server.password !== "") await dropBuildPassword(workspace.server);
      await runtime.stop(workspace.server);
      workspace.server = null;
      clock.mark("stop");
      await this.#publish(build, last, first, volume.path, from === index - 1, clock);
      policy.kept(performance.now() - keepAt + startMs);
      reporter.task(last.taskId, "succeeded");
      reporter.log(last.taskId, `took ${clock}`);
      return index;
    }
  }

  /** Runs consecutive steps on the server, in one tool process where the action can; reports a failure. */
  async #runSteps(build: Build, server: ServerHandle, run: readonly PlannedStep[]): Promise<void> {
    const { runtime, plan, reporter, signal } = build;
    const context = { runtime, image: plan.image, server, reporter, workDir: plan.workDir, signal };
    for (const step of run) reporter.task(step.taskId, "running");
    const first = run[0] as PlannedStep;
    const sameKind = run.every((step) => step.action.kind === first.action.kind);
    try {
      if (run.length > 1 && sameKind && first.action.runSeries !== undefined) {
        await first.action.runSeries(
          context,
          run.map((step) => ({ action: step.action, taskId: step.taskId })),
        );
      } else {
        for (const step of run) await step.action.run({ ...context, taskId: step.taskId });
      }
    } catch (error) {
      if (signal.aborted) throw error;
      const failed = error instanceof SqlrsError && typeof error.details?.task_id === "string"
        ? error.details.task_id
        : undefined;
      const at = Math.max(0, run.findIndex((step) => step.taskId === failed));
      run.forEach((step, i) => {
        if (i < at) reporter.task(step.taskId, "succeeded", "not kept");
        else if (i === at) reporter.task(step.taskId, "failed");
        else reporter.task(step.taskId, "skipped", "not run: an earlier step failed");
      });
      throw error;
    }
  }

  /** The data directory a step starts from: the base, or its input state. */
  #inputPath(build: Build, step: PlannedStep): string {
    return step.inputKind === "image"
      ? build.base.path
      : this.#deps.states.path(build.plan.image.storeDir, step.inputId);
  }

  /**
   * Publishes the data directory as the state of `step` (see `States.publish`). Its parent is the kept
   * state the run started from (`first`'s input).
   */
  async #publish(
    build: Build,
    step: PlannedStep,
    first: PlannedStep,
    dataDir: string,
    holdsKey: boolean,
    clock: PhaseClock,
  ): Promise<void> {
    const { plan, workspace } = build;
    const { states, capacity } = this.#deps;
    // The key of a state built after the first step of the run is not held yet: another job that
    // resumed from a state published meanwhile could be publishing the same one.
    const release = holdsKey ? () => {} : await this.#mutex.acquire(step.outputStateId);
    try {
      if (!holdsKey && await states.ensureReady(step.outputStateId)) {
        workspace.contentId = step.outputStateId;
        return;
      }
      // The run started from `previous`: what it did not write is shared with it, and not counted twice.
      await states.publish(
        {
          state_id: step.outputStateId,
          parent_state_id: first.inputKind === "state" ? first.inputId : null,
          image_id: plan.image.imageId,
          store_dir: plan.image.storeDir,
          prepare_kind: plan.prepareKind,
          prepare_args_normalized: plan.argsNormalized,
          inputs: keptStateInputs(
            step,
            plan.steps.slice(plan.steps.indexOf(first), plan.steps.indexOf(step)),
          ),
        },
        dataDir,
        {
          previous: this.#inputPath(build, first),
          admit: (bytes) => capacity.admit(bytes),
          onSnapshot: () => clock.mark("snapshot"),
        },
      );
      workspace.contentId = step.outputStateId;
      clock.mark("publish");
    } finally {
      release();
    }
    await capacity.enforce("post_snapshot");
  }
}
