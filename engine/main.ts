/**
 * The sqlrs engine process: reads its flags, wires the modules together, recovers what a previous
 * engine left behind, serves the API on a unix socket or loopback TCP, and shuts down gracefully on
 * SIGTERM/SIGINT or after the idle timeout.
 *
 * Usage: `deno run -A engine/main.ts [--listen unix:PATH | --listen 127.0.0.1:PORT] [--idle-timeout 120s]
 * [--write-engine-json PATH]`
 *
 * @module
 */

import { join } from "node:path";
import { parseDuration } from "../shared/duration.ts";
import { invalidArgument, messageOf, SqlrsError } from "../shared/errors.ts";
import { engineSocketPath, sqlrsPaths } from "../shared/paths.ts";
import type { EngineStatus } from "../shared/schemas.ts";
import { ensureStoreImage, type StoreImage } from "./store_image.ts";
import { VERSION } from "../shared/version.ts";
import { ConfigStore } from "./config/config_store.ts";
import { Inventory } from "./inventory/inventory.ts";
import { Instances } from "./instances/instances.ts";
import { Activity } from "./lifecycle/activity.ts";
import { removeEngineFile, writeEngineFile } from "./lifecycle/engine_file.ts";
import { acquireStoreLock } from "./lifecycle/store_lock.ts";
import { tightenStore } from "./lifecycle/store_permissions.ts";
import { Bases } from "./prepare/bases.ts";
import { findLiquibase } from "./prepare/liquibase/lb_tool.ts";
import { CacheCapacity } from "./cache/capacity.ts";
import { Executor } from "./prepare/executor.ts";
import { JobService } from "./prepare/jobs.ts";
import { Registry } from "./registry/registry.ts";
import { RunService } from "./run/runs.ts";
import { createRuntimes } from "./runtime/registry.ts";
import { createRuntimeSelector } from "./runtime/select.ts";
import {
  isStateFSSetting,
  openStateFS,
  probeStateFS,
  probeStateFSKind,
  type StateFSSetting,
} from "./statefs/select.ts";
import { StoreLayout } from "./store_layout.ts";
import type { StateFS } from "./statefs/types.ts";
import type { Runtime } from "./runtime/types.ts";
import { createApp } from "./server.ts";
import { randomHex } from "../shared/random.ts";

/** Where the engine listens. */
export type ListenAddress = { transport: "unix"; path: string } | {
  transport: "tcp";
  hostname: string;
  port: number;
};

/** The engine's command-line options. */
export interface EngineOptions {
  listen: ListenAddress;
  idleTimeoutMs: number;
  engineFile: string;
  /**
   * `--probe-snapshot KIND`: print whether that snapshot backend can work on the store (JSON
   * `{available, detail}`) and exit, touching nothing; how `sqlrs init` checks a backend before it
   * writes it (the CLI itself never looks at the store).
   */
  probeSnapshot?: string;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/**
 * Parses `unix:PATH` or `HOST:PORT`; only loopback hosts are accepted.
 * @throws {SqlrsError} `invalid_argument` for anything else
 */
export function parseListen(value: string): ListenAddress {
  if (value.startsWith("unix:")) {
    const path = value.slice("unix:".length).replace(/^\/\/(?=\/)/, "");
    if (!path.startsWith("/")) {
      throw new SqlrsError(
        "invalid_argument",
        `Invalid --listen "${value}": the socket path must be absolute`,
      );
    }
    return { transport: "unix", path };
  }
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value);
  if (match === null) {
    throw new SqlrsError(
      "invalid_argument",
      `Invalid --listen "${value}": expected unix:/path/engine.sock or 127.0.0.1:PORT`,
    );
  }
  const hostname = match[1] as string;
  if (!LOOPBACK.has(hostname)) {
    throw new SqlrsError(
      "invalid_argument",
      `Refusing to listen on ${hostname}: the engine serves only loopback (127.0.0.1, ::1) or a unix socket`,
    );
  }
  return { transport: "tcp", hostname: hostname.replace(/^\[|\]$/g, ""), port: Number(match[2]) };
}

function openLog(logDir: string): (line: string) => void {
  Deno.mkdirSync(logDir, { recursive: true });
  const file = Deno.openSync(join(logDir, "engine.log"), { append: true, create: true, mode: 0o600 });
  const encoder = new TextEncoder();
  return (line) => {
    try {
      file.writeSync(encoder.encode(`${new Date().toISOString()} [${Deno.pid}] ${line}\n`));
    } catch {
      // Logging must never take the engine down.
    }
  };
}

/** `SQLRS_SNAPSHOT_BACKEND` (set by the CLI from a workspace's config) overrides the engine config. */
function snapshotSetting(config: ConfigStore): StateFSSetting {
  const fromEnv = Deno.env.get("SQLRS_SNAPSHOT_BACKEND");
  if (fromEnv === undefined || fromEnv === "") {
    return {
      value: config.effective.snapshot.backend,
      source: "engine config snapshot.backend",
      fix: 'run "sqlrs config rm snapshot.backend" or set a backend that works here',
    };
  }
  return {
    value: fromEnv,
    source: "SQLRS_SNAPSHOT_BACKEND, e.g. a workspace's .sqlrs/config.yaml",
    fix: 'run "sqlrs init local --update --snapshot auto" in the workspace, or unset SQLRS_SNAPSHOT_BACKEND',
  };
}

/** `SQLRS_STORE_IMAGE` (+ `SQLRS_STORE_IMAGE_SIZE` bytes): the store lives on this btrfs loop image. */
function storeImageFromEnv(): StoreImage | undefined {
  const path = Deno.env.get("SQLRS_STORE_IMAGE");
  if (path === undefined || path === "") return undefined;
  const size = Number(Deno.env.get("SQLRS_STORE_IMAGE_SIZE") ?? 100 * 1024 ** 3);
  return { path, sizeBytes: size };
}

/** Parses the engine's argv. */
export async function parseEngineArgs(args: readonly string[]): Promise<EngineOptions> {
  const paths = sqlrsPaths();
  let listen: string | undefined;
  let idle = "120s";
  let engineFile = paths.engineFile;
  let probeSnapshot: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = (args[i] as string).split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => inline ?? args[++i] ?? "";
    if (name === "--listen") listen = value();
    else if (name === "--idle-timeout") idle = value();
    else if (name === "--write-engine-json") engineFile = value();
    else if (name === "--probe-snapshot") probeSnapshot = value();
    else throw new SqlrsError("invalid_argument", `Unknown engine option "${name}"`);
  }
  let idleTimeoutMs: number;
  try {
    idleTimeoutMs = parseDuration(idle);
  } catch (error) {
    throw new SqlrsError("invalid_argument", `Invalid --idle-timeout: ${messageOf(error)}`);
  }
  return {
    listen: parseListen(listen ?? `unix:${await engineSocketPath(paths)}`),
    idleTimeoutMs,
    engineFile,
    ...(probeSnapshot === undefined ? {} : { probeSnapshot }),
  };
}

async function probeSnapshot(kind: string): Promise<number> {
  if (!isStateFSSetting(kind)) {
    throw invalidArgument(`Invalid --probe-snapshot "${kind}": use auto, btrfs, overlay or copy`);
  }
  const probe = await probeStateFSKind(kind, sqlrsPaths().storeRoot);
  console.log(JSON.stringify(probe));
  return 0;
}

/** Runs the engine until it is told to stop or idles out; resolves with the process exit code. */
export async function runEngine(options: EngineOptions): Promise<number> {
  if (options.probeSnapshot !== undefined) return await probeSnapshot(options.probeSnapshot);
  const paths = sqlrsPaths();
  await Deno.mkdir(paths.stateDir, { recursive: true, mode: 0o711 });
  const log = openLog(paths.logDir);
  const image = storeImageFromEnv();
  if (image !== undefined) {
    log(`store: ${await ensureStoreImage(image, paths.storeRoot)} ${image.path} at ${paths.storeRoot}`);
  }
  // The store root must be reachable (not readable) by the unprivileged user PostgreSQL runs as.
  await Deno.mkdir(paths.storeRoot, { recursive: true, mode: 0o711 });
  await tightenStore(paths);
  const lock = await acquireStoreLock(paths.storeRoot);
  const layout = new StoreLayout(paths.storeRoot);
  const registry = new Registry(layout.dbFile);
  const config = await ConfigStore.open(layout.configFile);
  const snapshot = snapshotSetting(config);
  const { statefs, reason: snapshotReason, problem: snapshotProblem } = await openStateFS(
    snapshot,
    paths.storeRoot,
  );
  if (config.problem !== undefined) log(`config: ${config.problem}`);
  if (snapshotProblem !== undefined) log(`snapshot backend: ${snapshotProblem}`);
  // An explicit backend that cannot work here is refused when it is set, not found at the next start.
  config.onChange(async (next, previous) => {
    if (next.snapshot.backend === previous.snapshot.backend) return;
    const probe = await probeStateFSKind(next.snapshot.backend, paths.storeRoot);
    if (!probe.available) {
      throw invalidArgument(
        `Cannot set snapshot.backend to "${next.snapshot.backend}": it cannot work here: ${probe.detail}`,
      );
    }
  });
  const runtimes = createRuntimeSelector(createRuntimes({ storeRoot: paths.storeRoot }), {
    containerRuntime: () => config.effective.container.runtime,
  });
  const activity = new Activity();
  const instanceId = randomHex(16);
  const startedAt = new Date().toISOString();

  await recoverStore(registry, layout, statefs, runtimes.all(), log);

  const bases = new Bases(registry, layout, statefs);
  // The cache must not evict what running jobs use; jobs are created below, so bind late.
  let pinned = (): Set<string> => new Set();
  const capacity = new CacheCapacity({ registry, layout, statefs, config, pinned: () => pinned(), log });
  const executor = new Executor({ registry, layout, statefs, bases, capacity });
  await executor.removeDiscarded().catch((error) =>
    log(`recovery: cannot remove discarded states: ${messageOf(error)}`)
  );
  const instances = new Instances(registry, layout, statefs, runtimes, log);
  const jobs = new JobService({
    registry,
    runtimes,
    executor,
    instances,
    config,
    activity,
    log,
    storeRoot: layout.root,
  });
  pinned = () => jobs.pinnedStates();
  const inventory = new Inventory({
    registry,
    instances,
    runtimes,
    statefs,
    layout,
    jobActive: (jobId) => jobs.isActive(jobId),
    cancelJob: (jobId) => jobs.cancel(jobId),
    statesInUse: () => jobs.pinnedStates(),
  });
  const runs = new RunService({ inventory, instances, runtimes });

  const stopping = new AbortController();
  let resolveStopped!: (code: number) => void;
  const stopped = new Promise<number>((resolve) => (resolveStopped = resolve));
  const health = { ok: true, version: VERSION, instanceId, pid: Deno.pid };

  async function status(): Promise<EngineStatus> {
    const backends = await probeStateFS(paths.storeRoot);
    const containerRuntime = await runtimes.containerRuntimeName();
    const runtimeProbes = await Promise.all(
      runtimes.all().map(async (runtime) => ({ runtime, probe: await runtime.probe() })),
    );
    return {
      ...health,
      startedAt,
      stateDir: paths.stateDir,
      storeRoot: paths.storeRoot,
      runtimes: runtimeProbes.map(({ runtime, probe }) => ({
        name: runtime.name,
        available: probe.available,
        selected: runtime.name === "host" || runtime.name === containerRuntime,
        detail: probe.detail,
      })),
      snapshotBackends: backends.map((backend) => ({
        name: backend.kind,
        available: backend.available,
        selected: backend.kind === (snapshotProblem === undefined ? statefs.kind : snapshot.value),
        detail: backend.detail,
      })),
      snapshotReason,
      problems: [config.problem, snapshotProblem].filter((problem) => problem !== undefined),
      liquibase: await liquibaseStatus(config.effective.liquibase.exec),
      counts: registry.counts(),
    };
  }

  const token = randomHex(32);
  const handler = createApp({
    health,
    token,
    config,
    jobs,
    inventory,
    runs,
    activity,
    capacity,
    stopping: stopping.signal,
    status,
    shutdown: () => void shutdown("requested by a client"),
    log,
  });
  let server: Deno.HttpServer | undefined;
  let shuttingDown = false;
  const timers: ReturnType<typeof setInterval>[] = [];

  async function shutdown(why: string): Promise<void> {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`shutting down: ${why}`);
    for (const timer of timers) clearInterval(timer);
    removeEngineFile(options.engineFile, instanceId);
    stopping.abort();
    await jobs.shutdown();
    await server?.shutdown();
    // The socket goes before the store lock: the next engine may start as soon as the lock is free,
    // and it listens on the same path.
    if (options.listen.transport === "unix") await Deno.remove(options.listen.path).catch(() => {});
    registry.close();
    lock.close();
    resolveStopped(0);
  }

  const onListen = (addr: Deno.Addr) => {
    const endpoint = addr.transport === "unix"
      ? `unix://${(addr as Deno.UnixAddr).path}`
      : `http://${(addr as Deno.NetAddr).hostname}:${(addr as Deno.NetAddr).port}`;
    writeEngineFile(options.engineFile, {
      endpoint,
      pid: Deno.pid,
      startedAt,
      authToken: token,
      version: VERSION,
      instanceId,
    })
      .then(() => log(`listening on ${endpoint}`))
      .catch((error) => {
        log(`cannot write ${options.engineFile}: ${messageOf(error)}`);
        void shutdown("engine.json could not be written");
      });
  };
  if (options.listen.transport === "unix") {
    await Deno.mkdir(join(options.listen.path, ".."), { recursive: true });
    await Deno.remove(options.listen.path).catch(() => {});
    server = Deno.serve({ path: options.listen.path, transport: "unix", onListen }, handler);
  } else {
    server = Deno.serve({ hostname: options.listen.hostname, port: options.listen.port, onListen }, handler);
  }

  async function sweep(): Promise<void> {
    await reapExpired(registry, inventory, log);
    await jobs.reclaimUndelivered().catch((error) => log(`delivery: reclaim failed: ${messageOf(error)}`));
  }
  await sweep();
  await capacity.enforce("startup_recovery").catch((error) =>
    log(`cache: startup enforcement failed: ${messageOf(error)}`)
  );
  jobs.resumeInterrupted();
  let reaping = false;
  timers.push(setInterval(() => {
    if (reaping) return;
    reaping = true;
    sweep().finally(() => (reaping = false));
  }, 1000));
  timers.push(setInterval(() => {
    if (activity.idleMs() >= options.idleTimeoutMs) void shutdown(`idle for ${options.idleTimeoutMs} ms`);
  }, Math.min(1000, Math.max(50, options.idleTimeoutMs / 4))));
  const onSignal = (signal: Deno.Signal) => () => void shutdown(signal);
  const handlers: Array<[Deno.Signal, () => void]> = [["SIGTERM", onSignal("SIGTERM")], [
    "SIGINT",
    onSignal("SIGINT"),
  ]];
  for (const [signal, fn] of handlers) Deno.addSignalListener(signal, fn);

  const code = await stopped;
  for (const [signal, fn] of handlers) Deno.removeSignalListener(signal, fn);
  return code;
}

/** Which Liquibase `prepare:lb` would use, or why none (its first `--version` takes about a second). */
async function liquibaseStatus(configured: string | null): Promise<EngineStatus["liquibase"]> {
  try {
    const tool = await findLiquibase(configured);
    return { available: true, detail: `Liquibase ${tool.version} at ${tool.path} (${tool.source})` };
  } catch (error) {
    return { available: false, detail: messageOf(error) };
  }
}

/** Deletes instances whose TTL has passed (with their open connections). */
async function reapExpired(
  registry: Registry,
  inventory: Inventory,
  log: (line: string) => void,
): Promise<void> {
  for (const instance of registry.expiredInstances(new Date().toISOString())) {
    try {
      await inventory.deleteInstance(instance.instance_id, { force: true, dryRun: false });
      log(`ttl: deleted expired instance ${instance.instance_id} (expired ${instance.expires_at})`);
    } catch (error) {
      log(`ttl: cannot delete expired instance ${instance.instance_id}: ${messageOf(error)}`);
    }
  }
}

/**
 * Cleans what a crashed engine left: servers of jobs that no longer run, job build areas,
 * half-built states and the backend's own leftovers (mounts, subvolumes). Instances stay.
 */
async function recoverStore(
  registry: Registry,
  layout: StoreLayout,
  statefs: StateFS,
  runtimes: readonly Runtime[],
  log: (line: string) => void,
): Promise<void> {
  const instanceDataDirs = new Set(registry.listInstances().map((instance) => instance.server.dataDir));
  for (const runtime of runtimes) {
    const stopped = await runtime.stopStrays(layout.root, (dataDir) => instanceDataDirs.has(dataDir));
    for (const dataDir of stopped) log(`recovery: stopped a stray ${runtime.name} server on ${dataDir}`);
  }
  const instanceDirs = registry.listInstances().map((instance) => instance.instance_dir);
  await statefs.recover(
    layout.root,
    (path) => instanceDirs.some((dir) => path === dir || path.startsWith(`${dir}/`)),
  );
  // An engine killed between starting an instance (or publishing a state) and recording it leaves
  // files no row knows: nothing can reach them, so they go.
  for (const dir of await unrecorded(join(layout.root, "instances"), new Set(instanceDirs))) {
    await statefs.remove(join(dir, "data"));
    await Deno.remove(dir, { recursive: true });
    log(`recovery: removed ${dir}, an instance that was never recorded`);
  }
  const stateDirs = new Set(
    registry.listStates().map((state) => layout.stateDir(state.store_dir, state.state_id)),
  );
  for (const storeDir of new Set(registry.listBases().map((base) => base.store_dir))) {
    for (const dir of await unrecorded(layout.statesDir(storeDir), stateDirs)) {
      await statefs.remove(dir);
      log(`recovery: removed ${dir}, a state that was never recorded`);
    }
  }
  const jobsDir = join(layout.root, "jobs");
  const leftovers: string[] = [];
  try {
    for await (const entry of Deno.readDir(jobsDir)) leftovers.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  for (const jobId of leftovers) {
    try {
      await statefs.remove(join(jobsDir, jobId, "runtime"));
      await Deno.remove(join(jobsDir, jobId), { recursive: true });
      log(`recovery: removed the build area of job ${jobId}`);
    } catch (error) {
      // E.g. the configured backend cannot work here: the next engine that can will remove it.
      log(`recovery: cannot remove the build area of job ${jobId}: ${messageOf(error)}`);
    }
  }
}

/** The entries of `dir` not in `known` (by full path), skipping the backends' `.tmp-*` entries. */
async function unrecorded(dir: string, known: ReadonlySet<string>): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (!entry.name.startsWith(".") && !known.has(path)) found.push(path);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found;
}

if (import.meta.main) {
  try {
    Deno.exit(await runEngine(await parseEngineArgs(Deno.args)));
  } catch (error) {
    console.error(`sqlrs engine: ${messageOf(error)}`);
    Deno.exit(error instanceof SqlrsError && error.code === "invalid_argument" ? 2 : 1);
  }
}
