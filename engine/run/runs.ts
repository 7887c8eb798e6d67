/**
 * `POST /v1/runs`: psql or pgbench against an instance, streamed as NDJSON events while the child
 * produces output. Output flows through a bounded channel, so a child that prints faster than the
 * client reads is paused by the pipe instead of filling the engine's memory. A client that goes away
 * kills the child.
 *
 * @module
 */

import { isAbsolute } from "node:path";
import { encodeBase64 } from "./base64.ts";
import type { Inventory } from "../inventory/inventory.ts";
import type { Instances } from "../instances/instances.ts";
import type { RuntimeSelector } from "../runtime/select.ts";
import type { ToolOptions } from "../runtime/types.ts";
import type { RunEvent, RunRequest } from "../../shared/schemas.ts";
import { invalidArgument, messageOf, SqlrsError } from "../../shared/errors.ts";
import { Channel } from "./channel.ts";
import { parseRunArgs, type RunArgs } from "./run_args.ts";
import { toolDatabase } from "../session_options.ts";

/** Dependencies of the run service. */
export interface RunServiceDeps {
  inventory: Inventory;
  instances: Instances;
  runtimes: RuntimeSelector;
}

/** One psql/pgbench invocation of a run. */
interface Invocation extends RunArgs {
  stdin: string | undefined;
  statementTimeout: string | undefined;
}

function now(): string {
  return new Date().toISOString();
}

/** The directory tools run in: an absolute path to an existing directory (default `/`). */
function checkWorkDir(workDir: string | undefined): string {
  if (workDir === undefined) return "/";
  if (!isAbsolute(workDir)) throw invalidArgument(`Invalid work_dir "${workDir}": the path must be absolute`);
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(workDir);
  } catch {
    throw invalidArgument(`Invalid work_dir "${workDir}": no such directory`);
  }
  if (!info.isDirectory) throw invalidArgument(`Invalid work_dir "${workDir}": not a directory`);
  return workDir;
}

/** Starts runs. */
export class RunService {
  readonly #deps: RunServiceDeps;

  constructor(deps: RunServiceDeps) {
    this.#deps = deps;
  }

  /** Validates the request and resolves the instance (errors are thrown before any streaming), then streams. */
  start(body: RunRequest, signal: AbortSignal): AsyncIterable<RunEvent> {
    if (body.steps !== undefined && ((body.args?.length ?? 0) > 0 || body.stdin !== undefined)) {
      throw invalidArgument("Invalid run request: steps excludes args and stdin");
    }
    if (body.command !== undefined && body.command !== null && body.command !== body.kind) {
      throw invalidArgument(
        `Invalid run request: command "${body.command}" is not supported; only ${body.kind} runs`,
      );
    }
    const invocations: Invocation[] = (body.steps ?? [{ args: body.args ?? [], stdin: body.stdin }]).map((
      step,
    ) => ({
      ...parseRunArgs(body.kind, step.args),
      stdin: step.stdin,
      statementTimeout: body.statement_timeout,
    }));
    const workDir = checkWorkDir(body.work_dir);
    const { row } = this.#deps.inventory.resolveInstance(body.instance_ref);
    if (row.expires_at !== null && Date.parse(row.expires_at) < Date.now()) {
      throw new SqlrsError("not_found", `Instance ${row.instance_id} has expired`);
    }
    return this.#stream(row.instance_id, body.kind, invocations, workDir, signal);
  }

  async *#stream(
    instanceId: string,
    kind: RunRequest["kind"],
    invocations: Invocation[],
    workDir: string,
    signal: AbortSignal,
  ): AsyncGenerator<RunEvent> {
    yield { type: "start", ts: now(), instance_id: instanceId };
    const logs: RunEvent[] = [];
    let instance = this.#deps.inventory.resolveInstance(instanceId).row;
    try {
      instance = await this.#deps.instances.ensureRunning(
        instance,
        (line) => logs.push({ type: "log", ts: now(), data: line }),
      );
    } catch (error) {
      yield* logs;
      yield { type: "error", ts: now(), error: { code: "internal_error", message: messageOf(error) } };
      return;
    }
    yield* logs;
    const runtime = this.#deps.runtimes.byName(instance.image.runtime);
    let exitCode = 0;
    for (const invocation of invocations) {
      const options: ToolOptions = { cwd: workDir, signal };
      if (invocation.stdin !== undefined) options.stdin = invocation.stdin;
      const database = toolDatabase(invocation.database, invocation.statementTimeout);
      if (database !== undefined) options.database = database;
      const child = runtime.spawnTool(instance.image, instance.server, kind, invocation.args, options);
      const channel = new Channel<RunEvent>(16);
      const pump = async (stream: ReadableStream<Uint8Array>, type: "stdout" | "stderr") => {
        for await (const chunk of stream) await channel.send({ type, ts: now(), data: encodeBase64(chunk) });
      };
      const finished = Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr")]).finally(() =>
        channel.close()
      );
      try {
        for await (const event of channel) yield event;
      } finally {
        // Reached when the client disconnects too: the child must not outlive the request.
        if (signal.aborted) child.kill("SIGKILL");
      }
      await finished;
      exitCode = await child.status;
      if (signal.aborted) {
        // Killed by the engine, not failed on its own: its exit code must not pass for the tool's.
        const message = `The engine stopped during the run: ${kind} was killed, its work may be incomplete`;
        yield { type: "error", ts: now(), error: { code: "unavailable", message } };
        return;
      }
      if (exitCode !== 0) break;
    }
    yield { type: "exit", ts: now(), exit_code: exitCode };
  }
}
