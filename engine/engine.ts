/**
 * The engine as a value: {@link createEngine} wires the store's modules together over the runtimes
 * and the snapshot backend it is given, recovers what a previous engine left behind, and returns the
 * API as a function from `Request` to `Response`. `engine/main.ts` serves it on a socket and owns the
 * process (flags, log file, store lock, timers, signals); tests build it in process.
 *
 * @module
 */

import { join } from "node:path";
import { invalidArgument, messageOf } from "../shared/errors.ts";
import type { SqlrsPaths } from "../shared/paths.ts";
import { randomHex } from "../shared/random.ts";
import type { EngineStatus, Health } from "../shared/schemas.ts";
import { VERSION } from "../shared/version.ts";
import { CacheCapacity } from "./cache/capacity.ts";
import { ConfigStore } from "./config/config_store.ts";
import { Instances } from "./instances/instances.ts";
import { pruneInstances } from "./instances/prune.ts";
import { Inventory } from "./inventory/inventory.ts";
import { Activity } from "./lifecycle/activity.ts";
import { Bases } from "./prepare/bases.ts";
import { Executor } from "./prepare/executor.ts";
import { JobService } from "./prepare/jobs.ts";
import { InstancePool } from "./pool/pool.ts";
import { resetInstance } from "./pool/reset.ts";
import { findLiquibase } from "./prepare/liquibase/lb_tool.ts";
import { Registry } from "./registry/registry.ts";
import { RunService } from "./run/runs.ts";
import { createRuntimeSelector } from "./runtime/select.ts";
import type { Runtime } from "./runtime/types.ts";
import { createApp } from "./server.ts";
import { sourcesUnder } from "./sources/sources.ts";
import { treeIdOf } from "./sources/source_sweep.ts";
import { openStateFS, probeStateFS, probeStateFSKind, type StateFSSetting } from "./statefs/select.ts";
import type { StateFS } from "./statefs/types.ts";
import { States } from "./states/states.ts";
import { createTeamApp } from "./team/team_app.ts";
import { uploadedInputs } from "./team/uploaded_inputs.ts";
import type { TeamUsers } from "./team/users.ts";
import { StoreLayout } from "./store_layout.ts";

/** What an engine is built from. */
export interface EngineDeps {
  /** The state directory (shown by `status`) and the store root (created when missing). */
  paths: Pick<SqlrsPaths, "stateDir" | "storeRoot">;
  /** The runtimes servers may run in (host, docker, podman); the config chooses among containers. */
  runtimes: readonly Runtime[];
  /**
   * A workspace's snapshot backend (`SQLRS_SNAPSHOT_BACKEND`, set by the CLI from `.sqlrs/config.yaml`),
   * which overrides the engine config's `snapshot.backend`.
   */
  snapshotOverride?: string | undefined;
  log(line: string): void;
  /** Called when a client asks the engine to stop (`POST /v1/engine/shutdown`). */
  onShutdownRequest(): void;
  /**
   * A team engine's users (requests are theirs, each sees only its own: see `team/team_app.ts`) and
   * its files that no script may read (its users file and TLS key; the store is added here).
   */
  team?: { users: TeamUsers } | undefined;
}

/** A built engine. */
export interface Engine {
  /** The API: bearer-token authenticated with {@link Engine.token}. */
  fetch(request: Request): Promise<Response>;
  readonly token: string;
  readonly health: Health;
  readonly startedAt: string;
  readonly activity: Activity;
  /** Starts what runs once the API is up: the first sweep, cache enforcement, interrupted jobs. */
  start(): Promise<void>;
  /** Deletes expired instances and reclaims instances no client collected; run every second. */
  sweep(): Promise<void>;
  /** Ends open streams (new requests get a 503) and interrupts running jobs, which the next engine resumes. */
  stop(): Promise<void>;
  /** Closes the registry; call once the API serves no more requests. */
  close(): void;
}

/** The snapshot backend setting, and where it comes from (for messages). */
function snapshotSetting(config: ConfigStore, override: string | undefined): StateFSSetting {
  if (override === undefined || override === "") {
    return {
      value: config.effective.snapshot.backend,
      source: "engine config snapshot.backend",
      fix: 'run "sqlrs config rm snapshot.backend" or set a backend that works here',
    };
  }
  return {
    value: override,
    source: "SQLRS_SNAPSHOT_BACKEND, e.g. a workspace's .sqlrs/config.yaml",
    fix: 'run "sqlrs init local --update --snapshot auto" in the workspace, or unset SQLRS_SNAPSHOT_BACKEND',
  };
}

/**
 * Builds an engine on the store at `deps.paths.storeRoot`: opens its registry and config, chooses the
 * snapshot backend, and recovers what a crashed engine left (stray servers, build areas, unrecorded
 * states and instances). The caller holds the store lock.
 */
export async function createEngine(deps: EngineDeps): Promise<Engine> {
  const { paths, log } = deps;
  await Deno.mkdir(paths.storeRoot, { recursive: true, mode: 0o711 });
  const layout = new StoreLayout(paths.storeRoot);
  const registry = new Registry(layout.dbFile);
  const config = await ConfigStore.open(layout.configFile);
  const snapshot = snapshotSetting(config, deps.snapshotOverride);
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
  const runtimes = createRuntimeSelector(deps.runtimes, {
    containerRuntime: () => config.effective.container.runtime,
  });
  const activity = new Activity();
  const health: Health = { ok: true, version: VERSION, instanceId: randomHex(16), pid: Deno.pid };
  const startedAt = new Date().toISOString();

  await recoverStore(registry, layout, statefs, runtimes.all(), log);

  const bases = new Bases(registry, layout, statefs);
  const states = new States({ registry, layout, statefs });
  const capacity = new CacheCapacity({ registry, states, config, log });
  const executor = new Executor({ registry, layout, statefs, states, bases, capacity });
  await states.removeDiscarded().catch((error) =>
    log(`recovery: cannot remove discarded states: ${messageOf(error)}`)
  );
  const instances = new Instances(registry, layout, statefs, runtimes, log);
  const pool = new InstancePool({
    instances,
    stateExists: (stateId) => states.isComplete(stateId),
    config,
    log,
  });
  const jobs = new JobService({
    registry,
    runtimes,
    executor,
    leases: states.leases,
    instances,
    pool,
    config,
    activity,
    log,
    storeRoot: layout.root,
  });
  const inventory = new Inventory({
    registry,
    instances,
    runtimes,
    states,
    layout,
    jobActive: (jobId) => jobs.isActive(jobId),
    cancelJob: (jobId) => jobs.cancel(jobId),
  });
  const runs = new RunService({ inventory, instances, runtimes });

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

  const sources = sourcesUnder(layout.root, () =>
    new Set(
      registry.jobsWithStatus("queued", "running").flatMap((job) => treeIdOf(job.request.work_dir) ?? []),
    ));
  const stopping = new AbortController();
  const token = randomHex(32);
  const local = createApp({
    health,
    token,
    config,
    jobs,
    inventory,
    runs,
    activity,
    capacity,
    sources,
    prune: (request) => pruneInstances({ registry, inventory, log }, request),
    poolStatus: () => pool.status(),
    resetInstance: (ref) => resetInstance({ registry, layout, inventory, instances, pool }, ref),
    stopping: stopping.signal,
    status,
    shutdown: deps.onShutdownRequest,
    log,
  });
  const fetch = deps.team === undefined ? local : createTeamApp({
    inner: local,
    innerToken: token,
    users: deps.team.users,
    owners: registry,
    sources: uploadedInputs(sources.trees),
    log,
  });

  async function sweep(): Promise<void> {
    await reapExpired(registry, inventory, log);
    await jobs.reclaimUndelivered().catch((error) => log(`delivery: reclaim failed: ${messageOf(error)}`));
    await sources.sweep().catch((error) => log(`sources: sweep failed: ${messageOf(error)}`));
    await pool.sweep().catch((error) => log(`pool: sweep failed: ${messageOf(error)}`));
  }

  return {
    fetch,
    token,
    health,
    startedAt,
    activity,
    sweep,
    async start() {
      await sweep();
      await capacity.enforce("startup_recovery").catch((error) =>
        log(`cache: startup enforcement failed: ${messageOf(error)}`)
      );
      jobs.resumeInterrupted();
    },
    async stop() {
      stopping.abort();
      await jobs.shutdown();
      // Warm instances have no row: one left running would be a stray for the next engine's recovery.
      await pool.drain();
    },
    close() {
      registry.close();
    },
  };
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
