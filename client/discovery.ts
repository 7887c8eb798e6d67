/**
 * Finds the running engine or starts one.
 *
 * Order: an explicit endpoint (`--endpoint`, `SQLRS_ENGINE_ADDR`, `TAIDON_ENGINE_ADDR`), then
 * `engine.json` (the pid alive, health ok, the token accepted), else a new engine spawned detached
 * under a spawn lock, so that many clients started at once end with exactly one engine. An engine
 * that is shutting down (engine.json gone, answering 503) is waited for: the new one starts once
 * it has released the store.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { EngineFile } from "../shared/schemas.ts";
import { engineSocketPath, processAlive, type SqlrsPaths, sqlrsPaths } from "../shared/paths.ts";
import { SqlrsError } from "../shared/errors.ts";
import {
  type EngineAddress,
  EngineClient,
  type EngineClientOptions,
  EngineUnreachableError,
} from "./engine_client.ts";
import { VERSION } from "../shared/version.ts";

/** How to find or start the engine. */
export interface ConnectOptions extends EngineClientOptions {
  /** An explicit endpoint, or `auto`/undefined to discover. */
  endpoint?: string;
  /** The argv that starts an engine (`--listen …` and `--idle-timeout …` are appended). */
  engineCommand: readonly string[];
  /** Idle timeout given to a spawned engine, e.g. `120s`. */
  idleTimeout?: string;
  /** Extra environment for a spawned engine (a workspace's store and snapshot settings). */
  engineEnv?: Record<string, string>;
  /** How long to wait for a spawned engine (default 15 s). */
  startupTimeoutMs?: number;
  /** Whether to start an engine when none runs (default true). */
  autostart?: boolean;
  paths?: SqlrsPaths;
}

function envValue(name: string): string | undefined {
  const value = Deno.env.get(name);
  return value === undefined || value === "" ? undefined : value;
}

async function readEngineFile(path: string): Promise<EngineFile | undefined> {
  try {
    const parsed = EngineFile.safeParse(JSON.parse(await Deno.readTextFile(path)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The engine engine.json describes, if that engine is alive, not stopping, accepts its token, and is of
 * this sqlrs version or busy; an idle engine of another version is told to stop.
 */
async function liveEngine(
  paths: SqlrsPaths,
  options: EngineClientOptions,
): Promise<EngineAddress | undefined> {
  const file = await readEngineFile(paths.engineFile);
  if (file === undefined || !processAlive(file.pid)) return undefined;
  const address = { endpoint: file.endpoint, token: file.authToken };
  using client = new EngineClient(address, options);
  try {
    const health = await client.health();
    if (health.instanceId !== file.instanceId || !health.authenticated) return undefined;
    if (health.version !== VERSION && health.busy === false) {
      // An idle engine of another sqlrs build (the CLI was upgraded while it idled): replace it, so
      // that this client talks to its own version. A busy one is left to finish its work.
      await client.shutdown();
      return undefined;
    }
    return address;
  } catch {
    // Not answering, or shutting down: treat as stale.
  }
  return undefined;
}

/**
 * Whether an engine holds the store (its `engine.lock`): one that is shutting down has removed
 * engine.json but must release the store before the next engine can take it.
 */
async function storeHeld(storeRoot: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(join(storeRoot, "engine.lock"), { read: true, write: true });
  } catch {
    return false;
  }
  try {
    if (!(await file.tryLock(true))) return true;
    await file.unlock();
    return false;
  } finally {
    file.close();
  }
}

/** Takes the spawn lock, waiting at most `timeoutMs`. */
async function takeSpawnLock(paths: SqlrsPaths, timeoutMs: number): Promise<Deno.FsFile> {
  // The state dir holds the store, which PostgreSQL's unprivileged user must reach (not read): 0711.
  await Deno.mkdir(paths.stateDir, { recursive: true, mode: 0o711 });
  const runDir = paths.runDir;
  await Deno.mkdir(runDir, { recursive: true, mode: 0o700 });
  const file = await Deno.open(join(runDir, "daemon.lock"), {
    read: true,
    write: true,
    create: true,
    mode: 0o600,
  });
  const deadline = Date.now() + timeoutMs;
  while (!(await file.tryLock(true))) {
    if (Date.now() > deadline) {
      file.close();
      throw new EngineUnreachableError(
        `Another sqlrs is starting the engine and has not finished within ${timeoutMs} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return file;
}

async function spawnEngine(paths: SqlrsPaths, options: ConnectOptions): Promise<EngineAddress> {
  const timeoutMs = options.startupTimeoutMs ?? 15_000;
  const socket = await engineSocketPath(paths);
  const [program, ...args] = options.engineCommand;
  if (program === undefined) throw new TypeError("Cannot start the engine: engineCommand is empty");
  await Deno.mkdir(paths.logDir, { recursive: true });
  const child = new Deno.Command(program, {
    args: [...args, "--listen", `unix:${socket}`, "--idle-timeout", options.idleTimeout ?? "120s"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    detached: true,
    env: options.engineEnv ?? {},
  }).spawn();
  let exited: number | undefined;
  let stderr = "";
  const collect = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  child.status.then((status) => (exited = status.code));
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      const address = await liveEngine(paths, options);
      if (address !== undefined) return address;
      if (exited !== undefined) {
        await collect;
        throw new EngineUnreachableError(
          `The engine exited before becoming healthy (exit code ${exited})${
            stderr.trim() ? `: ${stderr.trim()}` : ""
          }`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new EngineUnreachableError(
      `The engine did not become healthy within ${timeoutMs} ms; see ${join(paths.logDir, "engine.log")}`,
    );
  } finally {
    // Let the engine outlive us: stop reading its stderr and drop our reference.
    if (exited === undefined) {
      await child.stderr.cancel().catch(() => {});
      child.unref();
    }
  }
}

function explicitEndpoint(options: ConnectOptions): string | undefined {
  const value = options.endpoint ?? envValue("SQLRS_ENGINE_ADDR") ?? envValue("TAIDON_ENGINE_ADDR");
  return value === "auto" ? undefined : value;
}

/**
 * Waits (under the spawn lock) until the engine in engine.json is healthy, or no engine holds the
 * store so that a new one can be started; an engine that is shutting down still holds it.
 */
async function awaitEngineOrFreeStore(
  paths: SqlrsPaths,
  options: ConnectOptions,
): Promise<EngineAddress | undefined> {
  const storeValue = options.engineEnv?.SQLRS_STATE_STORE;
  const storeRoot = storeValue === undefined || storeValue === "" ? paths.storeRoot : resolve(storeValue);
  const timeoutMs = options.startupTimeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const running = await liveEngine(paths, options);
    if (running !== undefined) return running;
    if (!(await storeHeld(storeRoot))) return undefined;
    if (Date.now() > deadline) {
      throw new EngineUnreachableError(
        `An engine still holds the store ${storeRoot} and did not stop or answer within ${timeoutMs} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The address of the engine, started when none runs. */
async function discover(paths: SqlrsPaths, options: ConnectOptions): Promise<EngineAddress> {
  const running = await liveEngine(paths, options);
  if (running !== undefined) return running;
  if (options.autostart === false) throw new EngineUnreachableError("The local engine is not running");
  const lock = await takeSpawnLock(paths, options.startupTimeoutMs ?? 15_000);
  try {
    return await awaitEngineOrFreeStore(paths, options) ?? await spawnEngine(paths, options);
  } finally {
    lock.close();
  }
}

/**
 * Connects to the engine, starting one when none runs. Unless `autostart` is false, the client
 * finds (or starts) the engine again when its engine goes away, within `timeoutMs`.
 * @throws {EngineUnreachableError} when no engine can be reached or started
 */
export async function connectEngine(options: ConnectOptions): Promise<EngineClient> {
  const paths = options.paths ?? sqlrsPaths();
  const explicit = explicitEndpoint(options);
  if (explicit !== undefined) {
    const endpoint = explicit.startsWith("unix:") && !explicit.startsWith("unix://")
      ? `unix://${explicit.slice(5)}`
      : explicit;
    const file = await readEngineFile(paths.engineFile);
    const token = envValue("SQLRS_TOKEN") ?? (file?.endpoint === endpoint ? file.authToken : undefined);
    if (token === undefined) {
      throw new SqlrsError("invalid_argument", `No token for engine ${endpoint}: set SQLRS_TOKEN`);
    }
    // An explicit engine is not ours to start: a request that did not reach it is sent again to it.
    return new EngineClient({ endpoint, token }, {
      ...options,
      reconnect: () => Promise.resolve({ endpoint, token }),
    });
  }
  const address = await discover(paths, options);
  if (options.autostart === false) return new EngineClient(address, options);
  return new EngineClient(address, { ...options, reconnect: () => discover(paths, options) });
}
