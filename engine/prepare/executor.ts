/**
 * Executes a plan: for each uncached step, a server on a clone of the step's input runs psql, stops
 * cleanly, and the data directory is snapshotted into a new state. A state is built under a temporary
 * name and published by rename, then recorded; two jobs needing the same state build it once.
 *
 * @module
 */

import { join } from "node:path";
import type { Registry } from "../registry/registry.ts";
import type { Runtime, ServerHandle } from "../runtime/types.ts";
import type { StateFS } from "../statefs/types.ts";
import { type StoreLayout, temporarySibling } from "../store_layout.ts";
import { KeyedMutex } from "../single_flight.ts";
import { SqlrsError } from "../../shared/errors.ts";
import type { Base, Bases } from "./bases.ts";
import type { Plan, PlannedStep } from "./planner.ts";
import { expandPsqlContent } from "./psql_includes.ts";
import { TextLineStream } from "../../shared/ndjson.ts";

/** How a running job reports progress. */
export interface JobReporter {
  readonly jobId: string;
  log(taskId: string | undefined, message: string): void;
  task(taskId: string, status: "running" | "succeeded" | "failed" | "skipped", message?: string): void;
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

async function isCompleteState(path: string): Promise<boolean> {
  try {
    if (!(await Deno.stat(join(path, "PG_VERSION"))).isFile) return false;
  } catch {
    return false;
  }
  try {
    // A clean shutdown removes postmaster.pid; its presence means the state was taken from a live server.
    await Deno.stat(join(path, "postmaster.pid"));
    return false;
  } catch {
    return true;
  }
}

async function pipeLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void, tail: string[]) {
  for await (const line of stream.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream())) {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    onLine(line);
  }
}

/** Builds the states of a plan. */
export class Executor {
  readonly #deps: ExecutorDeps;
  readonly #mutex = new KeyedMutex();

  constructor(deps: ExecutorDeps) {
    this.#deps = deps;
  }

  /** Whether a published, complete state exists; an incomplete one is discarded so it gets rebuilt. */
  async stateReady(stateId: string): Promise<boolean> {
    const row = this.#deps.registry.getState(stateId);
    if (row === undefined) return false;
    const path = this.#deps.layout.stateDir(row.store_dir, stateId);
    if (await isCompleteState(path)) return true;
    await this.#deps.statefs.remove(path);
    this.#deps.registry.deleteState(stateId);
    return false;
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
    if (workspace.contentId !== step.inputId) {
      await statefs.remove(workspace.clonePath);
      const source = step.inputKind === "image"
        ? base.path
        : layout.stateDir(plan.image.storeDir, step.inputId);
      workspace.dataDir = await statefs.clone(source, workspace.clonePath);
      workspace.contentId = step.inputId;
    }
    const dataDir = workspace.dataDir as string;
    workspace.server = await runtime.start(plan.image, dataDir, base.password, {
      runDir: workspace.runDir,
      signal,
    });
    // From here the data directory no longer equals its input, whatever happens.
    workspace.contentId = null;
    await this.#runPsql(runtime, plan, step, workspace.server, reporter, signal);
    await runtime.stop(workspace.server);
    workspace.server = null;
    await this.#checkInputsUnchanged(plan, step);

    const statePath = layout.stateDir(plan.image.storeDir, step.outputStateId);
    const building = temporarySibling(statePath);
    await Deno.mkdir(layout.statesDir(plan.image.storeDir), { recursive: true });
    await statefs.remove(statePath);
    await statefs.snapshot(dataDir, building);
    const sizeBytes = await statefs.size(building);
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
      prepare_kind: "psql",
      prepare_args_normalized: plan.argsNormalized,
      size_bytes: sizeBytes,
      inputs: step.inputs,
    });
    workspace.contentId = step.outputStateId;
    await this.#deps.capacity.enforce("post_snapshot");
  }

  async #runPsql(
    runtime: Runtime,
    plan: Plan,
    step: PlannedStep,
    server: ServerHandle,
    reporter: JobReporter,
    signal: AbortSignal,
  ): Promise<void> {
    const stdin = step.psql.input.kind === "stdin" ? plan.stdin : undefined;
    const options = stdin === undefined
      ? { cwd: plan.workDir, signal }
      : { cwd: plan.workDir, signal, stdin };
    const child = runtime.spawnTool(plan.image, server, "psql", step.psql.args, options);
    const stderrTail: string[] = [];
    const [, , code] = await Promise.all([
      pipeLines(child.stdout, (line) => reporter.log(step.taskId, `psql: ${line}`), []),
      pipeLines(child.stderr, (line) => reporter.log(step.taskId, `psql: ${line}`), stderrTail),
      child.status,
    ]);
    signal.throwIfAborted();
    if (code !== 0) {
      const detail = stderrTail.filter((line) => line.trim() !== "").slice(-5).join("\n");
      throw new SqlrsError(
        "step_failed",
        `Step ${step.taskId} failed: psql exited with code ${code}${detail ? `\n${detail}` : ""}`,
        {
          details: { task_id: step.taskId, exit_code: code },
        },
      );
    }
  }

  /** The state's key covers the inputs' content as planned; refuse to publish if they changed meanwhile. */
  async #checkInputsUnchanged(plan: Plan, step: PlannedStep): Promise<void> {
    const input = step.psql.input;
    const text = input.kind === "file"
      ? await Deno.readTextFile(input.path)
      : input.kind === "command"
      ? input.sql
      : plan.stdin ?? "";
    const origin = input.kind === "file" ? input.path : null;
    const { contentHash } = await expandPsqlContent({ text, origin, workDir: plan.workDir });
    if (contentHash !== step.psql.contentHash) {
      throw new SqlrsError(
        "conflict",
        `Step ${step.taskId} was not cached: its input files changed while it ran; run prepare again`,
      );
    }
  }
}
