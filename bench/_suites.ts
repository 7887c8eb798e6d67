/**
 * The probes, grouped by what they compare:
 *
 * - cold: a cold prepare of Chinook through sqlrs (empty store) against the same steps by hand;
 * - backends: per snapshot backend, a warm prepare (cache hit to a ready DSN) of a small and a large
 *   state through the API and the CLI, instance delete, and the physical floor (the backend's own
 *   clone by hand + a direct `postgres` start), plus `pg_ctl start -w` and a direct start of an
 *   existing data directory;
 * - template: `CREATE DATABASE … TEMPLATE` on one running server, both strategies;
 * - chain: a three-step chain whose last step changes (tail-only rebuild) against a fresh cluster
 *   running all three steps and against the same tail done by hand on the cached state.
 *
 * Each `setup*` function builds what its probes need (untimed) and registers its teardown.
 *
 * @module
 */

import { join } from "node:path";
import { run, runOk } from "./_exec.ts";
import { type FigureSpec, type Probe, type Sample, since } from "./_harness.ts";
import {
  BACKEND_INFO,
  backendFilesystem,
  type BackendKind,
  Installation,
  stateDirOf,
  unmountUnder,
} from "./_fixtures.ts";
import {
  initdb,
  ownedDir,
  pgbenchInit,
  type PgTools,
  psqlCommand,
  psqlFile,
  PsqlSession,
  removeTree,
  type Server,
  startDirect,
  startPgCtl,
  stop,
} from "./_postgres.ts";
import { apiPrepare, cliDelete, cliPrepare, instanceTimings, psqlRequest } from "./_sqlrs.ts";
import {
  addSeriesStep,
  type Chain,
  chain,
  chinook,
  editSeriesTail,
  migrationSeries,
  nextChainTail,
  pgbench,
  type Series,
  type Workload,
} from "./_workloads.ts";
import { CLI } from "./_fixtures.ts";

/** How much to measure. */
export interface BenchConfig {
  mode: BenchMode;
  /** Warm-ups and measured runs of the sub-second probes. */
  warmup: number;
  runs: number;
  /** Warm-ups and measured runs of the multi-second probes (cold prepares, chains). */
  coldWarmup: number;
  coldRuns: number;
  /** The pgbench size ladder; the first is the small state of the size ratio, the last the large. */
  scales: number[];
  /** Size of each loop-file filesystem. */
  loopGiB: number;
  /** How many backends (best first) also run the chain. */
  chainBackends: number;
  /** Template clones of the pgbench ladder too (not only Chinook). */
  templateLadder: boolean;
  /** The `pg_ctl` and throwaway (`initdb -N`, `fsync=off`) flavours of the by-hand cold prepare. */
  extraHandVariants: boolean;
  /** Cold prepares on the default store (ext4) as well as on btrfs (else btrfs only, where available). */
  coldOnEveryFilesystem: boolean;
}

/** `full` (the committed report), `quick` (under 5 minutes on the 2-core VM), `smoke` (one run each, to try changes). */
export type BenchMode = "full" | "quick" | "smoke";

/** The settings of each mode. */
export function configFor(mode: BenchMode): BenchConfig {
  if (mode === "smoke") {
    return {
      mode,
      warmup: 0,
      runs: 1,
      coldWarmup: 0,
      coldRuns: 1,
      scales: [1, 2],
      loopGiB: 2,
      chainBackends: 1,
      templateLadder: true,
      extraHandVariants: true,
      coldOnEveryFilesystem: true,
    };
  }
  return mode === "quick"
    ? {
      mode,
      warmup: 1,
      runs: 5,
      // The untimed setup already ran the same cold work (engine spawns, initdb, Chinook, the chain).
      coldWarmup: 0,
      coldRuns: 3,
      scales: [1, 20],
      loopGiB: 4,
      chainBackends: 1,
      templateLadder: false,
      extraHandVariants: false,
      coldOnEveryFilesystem: false,
    }
    : {
      mode,
      warmup: 2,
      runs: 11,
      coldWarmup: 1,
      coldRuns: 5,
      scales: [1, 20, 100],
      loopGiB: 24,
      chainBackends: 4,
      templateLadder: true,
      extraHandVariants: true,
      coldOnEveryFilesystem: true,
    };
}

/** What every suite shares. */
export class BenchContext {
  readonly root: string;
  readonly tools: PgTools;
  readonly config: BenchConfig;
  /** Teardowns, run in reverse order by the entry point. */
  readonly cleanup: AsyncDisposableStack;
  readonly log: (line: string) => void;
  #n = 0;

  constructor(
    root: string,
    tools: PgTools,
    config: BenchConfig,
    cleanup: AsyncDisposableStack,
    log: (line: string) => void,
  ) {
    this.root = root;
    this.tools = tools;
    this.config = config;
    this.cleanup = cleanup;
    this.log = log;
  }

  /** A number never handed out before in this run. */
  next(): number {
    return ++this.#n;
  }

  /** Where workload files live. */
  get workDir(): string {
    return join(this.root, "workloads");
  }

  /** A fresh directory owned by the server user (sockets, logs, by-hand clusters), under `parent`. */
  async serverDir(prefix: string, parent = join(this.root, "pg")): Promise<string> {
    const dir = join(parent, `${prefix}${this.next()}`);
    await Deno.mkdir(parent, { recursive: true, mode: 0o755 });
    await ownedDir(this.tools, dir);
    return dir;
  }

  /** A new sqlrs installation that is disposed at the end unless the caller does it first. */
  async installation(
    name: string,
    options: Parameters<typeof Installation.create>[1] = {},
  ): Promise<Installation> {
    const installation = await Installation.create(join(this.root, name), options);
    this.cleanup.defer(() => installation.dispose());
    return installation;
  }
}

const HOST = "host";
const HAND = "by hand";

/** A figure whose metric is `total` unless given. */
export function figure(spec: Omit<FigureSpec, "metric"> & { metric?: string }): FigureSpec {
  return { metric: "total", ...spec };
}

/** Phase figures of `parent`, one per metric. */
function phases(parent: FigureSpec, list: Array<[metric: string, what: string]>): FigureSpec[] {
  return list.map(([metric, what]) => ({
    ...parent,
    id: `${parent.id}/${metric}`,
    metric,
    what,
    phaseOf: parent.id,
  }));
}

// ---------------------------------------------------------------------------------------------
// Clones by hand, with each backend's own mechanism

/** Clones `src` into `dst` exactly as the backend's mechanism does; resolves with the data directory. */
async function cloneBy(kind: BackendKind, src: string, dst: string): Promise<string> {
  switch (kind) {
    case "btrfs":
      await runOk(["btrfs", "subvolume", "snapshot", src, dst]);
      return dst;
    case "xfs-reflink":
      await runOk(["cp", "-a", "--reflink=always", "-T", src, dst]);
      return dst;
    case "copy":
      await runOk(["cp", "-a", "--reflink=auto", "-T", src, dst]);
      return dst;
    case "overlay": {
      const [upper, work, merged] = [join(dst, "upper"), join(dst, "work"), join(dst, "merged")];
      for (const dir of [dst, upper, work, merged]) await Deno.mkdir(dir);
      const info = await Deno.stat(src);
      // The merged root takes upper's owner and mode; PostgreSQL checks both.
      await Deno.chown(upper, info.uid, info.gid);
      await Deno.chmod(upper, (info.mode ?? 0o700) & 0o7777);
      await runOk([
        "mount",
        "-t",
        "overlay",
        "overlay",
        "-o",
        `lowerdir=${src},upperdir=${upper},workdir=${work}`,
        merged,
      ]);
      return merged;
    }
  }
}

async function removeClone(kind: BackendKind, dst: string): Promise<void> {
  if (kind === "btrfs") {
    const result = await run(["btrfs", "subvolume", "delete", dst]);
    if (result.code === 0) return;
  }
  if (kind === "overlay") await unmountUnder(dst);
  await removeTree(dst);
}

/** A durable, immutable copy of a stopped data directory, as the backend makes a state. */
async function snapshotBy(kind: BackendKind, src: string, dst: string): Promise<void> {
  if (kind === "btrfs") {
    await runOk(["btrfs", "subvolume", "snapshot", "-r", src, dst]);
    return;
  }
  await runOk(["cp", "-a", "--reflink=auto", "-T", src, dst]);
  await runOk(["sync", "-f", dst]);
}

const CLONE_COMMAND: Record<BackendKind, string> = {
  "btrfs": "btrfs subvolume snapshot STATE CLONE",
  "xfs-reflink": "cp -a --reflink=always STATE CLONE",
  "overlay": "mount -t overlay -o lowerdir=STATE,upperdir=U,workdir=W CLONE",
  "copy": "cp -a --reflink=auto STATE CLONE",
};

const DIRECT_START = "postgres -D CLONE -p P -k SOCK (as postgres) + poll postmaster.pid every 2 ms";

// ---------------------------------------------------------------------------------------------
// Cold prepare (issue 3)

/**
 * Cold prepares of Chinook (an empty store: initdb of the base included) through the API on every
 * backend measured (a quick run: the first, btrfs where available) and through the CLI on the first,
 * against the same steps by hand on the system disk (ext4, what a user would otherwise do), in a full
 * run also on the btrfs filesystem.
 */
export function coldProbes(ctx: BenchContext, setups: readonly BackendSetup[]): Probe[] {
  const work = chinook();
  const chinookFile = work.psqlArgs[2] as string;
  const probes: Probe[] = [];
  const every = ctx.config.coldOnEveryFilesystem;
  const targets = every ? setups : setups.slice(0, 1);
  /** A new installation with an empty store on the backend's filesystem. */
  const emptyInstallation = (setup: BackendSetup, name: string) =>
    Installation.create(join(ctx.root, name), {
      storeRoot: join(setup.fs, `${name}-store`),
      backend: BACKEND_INFO[setup.kind].engine,
    });

  const sqlrsCold = { group: "cold", workload: "chinook", runtime: HOST, technique: "sqlrs" } as const;

  for (const setup of targets) {
    const coldApi = figure({
      ...sqlrsCold,
      id: `cold.api.chinook@${setup.kind}`,
      what: "sqlrs cold prepare, empty store (initdb of the base included), API",
      command: "EngineClient.submitPrepare({psql_args: [-q, -f, Chinook.sql]}) + jobEvents until result",
      backend: setup.label,
      via: "api",
    });
    probes.push({
      name: coldApi.id,
      warmup: ctx.config.coldWarmup,
      runs: ctx.config.coldRuns,
      figures: [
        coldApi,
        ...phases(coldApi, [
          ["initdb", "engine: initdb of the base"],
          ["steps", "engine: step (clone, start, psql, stop, snapshot)"],
          ["instance", "engine: instance (clone + start to ready)"],
        ]),
      ],
      async run() {
        const installation = await emptyInstallation(setup, `cold-api-${ctx.next()}`);
        try {
          const p = await apiPrepare(
            await installation.client(),
            psqlRequest(work.psqlArgs, installation.dir),
          );
          return { total: p.totalMs, ...p.phases };
        } finally {
          await installation.dispose();
        }
      },
    });
  }

  const btrfs = setups.find((s) => s.kind === "btrfs");
  const handTargets: Array<{ suffix: string; backend: string; fs?: string }> = [{
    suffix: "",
    backend: "ext4",
  }];
  if (btrfs !== undefined && every) {
    handTargets.push({ suffix: "@btrfs", backend: btrfs.label, fs: btrfs.fs });
  }
  for (const target of handTargets) {
    const hand = figure({
      id: `hand.fresh.chinook${target.suffix}`,
      group: "cold",
      workload: "chinook",
      runtime: HOST,
      what:
        "by hand: initdb + direct start + psql -f + fast stop (fsync on: a durable result, as sqlrs's states)",
      command:
        `initdb -U postgres -E UTF8 --locale=C; ${DIRECT_START}; psql -X -q -v ON_ERROR_STOP=1 -f Chinook.sql; kill -INT`,
      technique: "baseline",
      backend: target.backend,
      via: HAND,
    });
    probes.push(handProbe(ctx, hand, chinookFile, { noSync: false, pgCtl: false, parent: target.fs }));
  }

  const cliSetup = targets[0];
  if (cliSetup !== undefined) {
    const coldCli = figure({
      ...sqlrsCold,
      id: `cold.cli.chinook@${cliSetup.kind}`,
      what: "sqlrs cold prepare, empty store, CLI, engine not running (its start included)",
      command: "sqlrs --output json prepare:psql -- -q -f Chinook.sql",
      backend: cliSetup.label,
      via: "cli",
    });
    probes.push({
      name: coldCli.id,
      warmup: ctx.config.coldWarmup,
      runs: ctx.config.coldRuns,
      figures: [coldCli],
      async run() {
        const installation = await emptyInstallation(cliSetup, `cold-cli-${ctx.next()}`);
        try {
          return { total: (await cliPrepare(installation, work.psqlArgs)).ms };
        } finally {
          await installation.dispose();
        }
      },
    });
  }

  if (ctx.config.extraHandVariants) {
    const variants = [
      {
        id: "hand.fresh-nosync.chinook",
        noSync: true,
        pgCtl: false,
        what: "by hand, throwaway: initdb -N + start -c fsync=off + psql -f + fast stop",
        command: "initdb -N ...; postgres ... -c fsync=off; psql -f Chinook.sql; kill -INT",
      },
      {
        id: "hand.pgctl.chinook",
        noSync: false,
        pgCtl: true,
        what: "by hand with pg_ctl: initdb + pg_ctl -w start + psql -f + pg_ctl -w -m fast stop",
        command: "initdb ...; pg_ctl -w start; psql -f Chinook.sql; pg_ctl -w -m fast stop",
      },
    ];
    for (const variant of variants) {
      const hand = figure({
        id: variant.id,
        group: "cold",
        workload: "chinook",
        runtime: HOST,
        what: variant.what,
        command: variant.command,
        technique: "baseline",
        backend: "ext4",
        via: HAND,
      });
      probes.push(handProbe(ctx, hand, chinookFile, { ...variant, parent: undefined }));
    }
  }
  return probes;
}

function handProbe(
  ctx: BenchContext,
  total: FigureSpec,
  file: string,
  options: { noSync: boolean; pgCtl: boolean; parent: string | undefined },
): Probe {
  return {
    name: total.id,
    warmup: ctx.config.coldWarmup,
    runs: ctx.config.coldRuns,
    figures: [
      total,
      ...phases(total, [
        ["to-ready", "initdb + start + psql -f (a fresh cluster with Chinook, ready)"],
        ["initdb", "initdb"],
        ["start", "start to ready"],
        ["psql", "psql -f Chinook.sql"],
        ["stop", "stop"],
      ]),
    ],
    run: () => freshCluster(ctx, [{ file, database: "postgres" }], options),
  };
}

/** initdb + start + psql steps + stop in a new directory, timed per phase. */
async function freshCluster(
  ctx: BenchContext,
  steps: Array<{ file: string | readonly string[]; database: string }>,
  options: { noSync: boolean; pgCtl: boolean; parent?: string | undefined },
): Promise<Sample> {
  const dir = await ctx.serverDir("fresh-", options.parent);
  const dataDir = join(dir, "data");
  let server: Server | undefined;
  try {
    const t0 = performance.now();
    await initdb(ctx.tools, dataDir, options.noSync);
    const t1 = performance.now();
    server = options.pgCtl
      ? await startPgCtl(ctx.tools, dataDir, dir, join(dir, "log"))
      : await startDirect(ctx.tools, dataDir, dir, { fsync: !options.noSync });
    const t2 = performance.now();
    for (const step of steps) await psqlFile(ctx.tools, server, step.file, step.database);
    const t3 = performance.now();
    if (options.pgCtl) {
      await runOk([join(ctx.tools.bindir, "pg_ctl"), "-D", dataDir, "-w", "-m", "fast", "stop"], {
        cwd: "/",
        env: ctx.tools.env,
        ...(ctx.tools.user === undefined ? {} : { uid: ctx.tools.user.uid, gid: ctx.tools.user.gid }),
      });
    } else await stop(server);
    server = undefined;
    const t4 = performance.now();
    return {
      total: t4 - t0,
      "to-ready": t3 - t0,
      initdb: t1 - t0,
      start: t2 - t1,
      psql: t3 - t2,
      stop: t4 - t3,
    };
  } finally {
    if (server !== undefined) await stop(server);
    await removeTree(dir);
  }
}

// ---------------------------------------------------------------------------------------------
// Per backend (issues 3 and 4)

/** A backend's installation with its states built, for the probes and the chain. */
export interface BackendSetup {
  kind: BackendKind;
  label: string;
  /** The filesystem (mount point or directory) the store and the by-hand clones are on. */
  fs: string;
  installation: Installation;
  /** Where by-hand clones go: the same filesystem as the store. */
  floorDir: string;
  workloads: Workload[];
  stateDirs: Map<string, string>;
}

/** Makes the backend's filesystem and installation and builds every workload's state (untimed). */
export async function setupBackend(ctx: BenchContext, kind: BackendKind): Promise<BackendSetup> {
  const label = BACKEND_INFO[kind].label;
  const fs = await backendFilesystem(ctx.root, kind, ctx.config.loopGiB);
  const installation = await ctx.installation(`sqlrs-${kind}`, {
    storeRoot: join(fs, "store"),
    backend: BACKEND_INFO[kind].engine,
  });
  const floorDir = join(fs, "floor");
  await Deno.mkdir(floorDir, { mode: 0o755 });
  const client = await installation.client();
  const selected = (await client.status()).snapshotBackends.find((b) => b.selected)?.name;
  if (selected !== BACKEND_INFO[kind].engine) {
    throw new Error(
      `The ${kind} installation uses the ${selected} backend, not ${BACKEND_INFO[kind].engine}`,
    );
  }
  const workloads: Workload[] = [chinook()];
  for (const scale of ctx.config.scales) workloads.push(await pgbench(ctx.workDir, ctx.tools.pgbench, scale));
  const stateDirs = new Map<string, string>();
  for (const workload of workloads) {
    const started = performance.now();
    const p = await apiPrepare(client, psqlRequest(workload.psqlArgs, installation.dir));
    await client.delete("instances", p.instanceId);
    stateDirs.set(workload.name, await stateDirOf(installation.storeRoot, p.stateId));
    ctx.log(`  ${kind}: state ${workload.name} built in ${(since(started) / 1000).toFixed(1)} s`);
  }
  return { kind, label, fs, installation, floorDir, workloads, stateDirs };
}

/** Warm prepares, deletes, floors and existing-directory starts on one backend. */
export async function backendProbes(ctx: BenchContext, setup: BackendSetup): Promise<Probe[]> {
  const { kind, label, installation, floorDir } = setup;
  const probes: Probe[] = [];
  const at = `@${kind}`;
  const common = { runtime: HOST, backend: label };
  const cheap = { warmup: ctx.config.warmup, runs: ctx.config.runs };

  for (const workload of setup.workloads) {
    const warm = figure({
      ...common,
      id: `warm.api.${workload.name}${at}`,
      group: "warm",
      workload: workload.name,
      what: `sqlrs warm prepare (cache hit) to a ready DSN, API`,
      command: "EngineClient.submitPrepare(same request) + jobEvents until result",
      technique: "sqlrs",
      via: "api",
    });
    const del = figure({
      ...common,
      id: `delete.api.${workload.name}${at}`,
      metric: "delete",
      group: "delete",
      workload: workload.name,
      what: "sqlrs instance delete, API",
      command: "EngineClient.delete('instances', id)",
      technique: "sqlrs",
      via: "api",
    });
    probes.push({
      name: warm.id,
      ...cheap,
      figures: [
        warm,
        ...phases(warm, [
          ["clone", "engine: clone of the state (engine log)"],
          ["start", "engine: postgres start to ready (engine log)"],
          ["other", "rest: planning, job, events, registry, HTTP"],
          ["submit", "of which: POST /v1/prepare-jobs round trip (planning; overlaps the job)"],
        ]),
        del,
      ],
      async run() {
        const client = await installation.client();
        await installation.newLogLines();
        const p = await apiPrepare(client, psqlRequest(workload.psqlArgs, installation.dir));
        const timings = instanceTimings(await installation.newLogLines(), p.instanceId);
        const t = performance.now();
        await client.delete("instances", p.instanceId);
        const deleteMs = since(t);
        if (p.executedSteps !== 0) {
          throw new Error(`A warm prepare of ${workload.name} ran ${p.executedSteps} steps`);
        }
        return {
          total: p.totalMs,
          submit: p.submitMs,
          clone: timings?.clone ?? NaN,
          start: timings?.start ?? NaN,
          other: timings === undefined ? NaN : p.totalMs - timings.clone - timings.start,
          delete: deleteMs,
        };
      },
    });

    const floor = figure({
      ...common,
      id: `floor.${workload.name}${at}`,
      group: "warm",
      workload: workload.name,
      what: "physical floor: the backend's clone of the same state by hand + direct start to ready",
      command: `${CLONE_COMMAND[kind]}; ${DIRECT_START}`,
      technique: "baseline",
      via: HAND,
    });
    const stateDir = setup.stateDirs.get(workload.name) as string;
    const socketDir = await ctx.serverDir("sock-");
    probes.push({
      name: floor.id,
      ...cheap,
      figures: [
        floor,
        ...phases(floor, [["clone", "clone by hand"], ["start", "direct start to ready"]]),
      ],
      async run() {
        const dst = join(floorDir, `clone-${ctx.next()}`);
        let server: Server | undefined;
        try {
          const t0 = performance.now();
          const dataDir = await cloneBy(kind, stateDir, dst);
          const t1 = performance.now();
          server = await startDirect(ctx.tools, dataDir, socketDir);
          const t2 = performance.now();
          return { total: t2 - t0, clone: t1 - t0, start: t2 - t1 };
        } finally {
          if (server !== undefined) await stop(server);
          await removeClone(kind, dst);
        }
      },
    });
  }

  // The CLI adds its own process start and engine discovery to the same warm prepare.
  const small = setup.workloads[0] as Workload;
  const warmCli = figure({
    ...common,
    id: `warm.cli.${small.name}${at}`,
    group: "warm",
    workload: small.name,
    what: "sqlrs warm prepare (cache hit) to a ready DSN, CLI (process start included)",
    command: "sqlrs --output json prepare:psql -- -q -f Chinook.sql",
    technique: "sqlrs",
    via: "cli",
  });
  const deleteCli = figure({
    ...common,
    id: `delete.cli.${small.name}${at}`,
    metric: "delete",
    group: "delete",
    workload: small.name,
    what: "sqlrs instance delete, CLI",
    command: "sqlrs rm <instance_id>",
    technique: "sqlrs",
    via: "cli",
  });
  probes.push({
    name: warmCli.id,
    ...cheap,
    figures: [warmCli, deleteCli],
    async run() {
      const prepared = await cliPrepare(installation, small.psqlArgs);
      return { total: prepared.ms, delete: await cliDelete(installation, prepared.instanceId) };
    },
  });

  // An existing data directory (a writable copy of the Chinook state made once), started two ways.
  const existing = join(floorDir, "existing-chinook");
  await cloneBy(kind === "overlay" ? "copy" : kind, setup.stateDirs.get(small.name) as string, existing);
  const existingSocket = await ctx.serverDir("sock-");
  const pgCtlLog = join(await ctx.serverDir("log-"), "pg_ctl.log");
  const starts: Array<{ id: string; what: string; command: string; pgCtl: boolean }> = [
    {
      id: `start.pgctl.${small.name}${at}`,
      what: "bare pg_ctl start -w of an existing data directory",
      command: "pg_ctl -D DIR -l LOG -w -o '-p P -k SOCK ...' start (as postgres)",
      pgCtl: true,
    },
    {
      id: `start.direct.${small.name}${at}`,
      what: "direct postgres start of an existing data directory + readiness poll",
      command: DIRECT_START.replace("CLONE", "DIR"),
      pgCtl: false,
    },
  ];
  for (const start of starts) {
    probes.push({
      name: start.id,
      ...cheap,
      figures: [figure({
        ...common,
        id: start.id,
        group: "start",
        workload: small.name,
        what: start.what,
        command: start.command,
        technique: "baseline",
        via: HAND,
      })],
      async run() {
        const t0 = performance.now();
        const server = start.pgCtl
          ? await startPgCtl(ctx.tools, existing, existingSocket, pgCtlLog)
          : await startDirect(ctx.tools, existing, existingSocket);
        const total = since(t0);
        await stop(server);
        return { total };
      },
    });
  }
  return probes;
}

// ---------------------------------------------------------------------------------------------
// CLI start

/** The CLI's own process start (deno + module graph), no engine call. */
export function cliStartProbe(ctx: BenchContext, installation: Installation): Probe {
  return {
    name: "cli.start",
    warmup: ctx.config.warmup,
    runs: ctx.config.runs,
    figures: [figure({
      id: "cli.start",
      group: "breakdown",
      workload: "-",
      what: "CLI process start alone (deno run + module load), no engine call",
      command: `deno run -A --quiet ${CLI.replace(/.*\/cli\//, "cli/")} --version`,
      technique: "sqlrs",
      backend: "-",
      runtime: HOST,
      via: "cli",
    })],
    async run() {
      const result = await installation.cli(["--version"]);
      if (result.code !== 0) throw new Error(`sqlrs --version exited ${result.code}: ${result.stderr}`);
      return { total: result.ms };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Template clones on one running server (issue 9 baseline 2)

/** One server with Chinook (and the pgbench ladder in a full run); CREATE DATABASE … TEMPLATE both ways. */
export async function templateProbes(ctx: BenchContext): Promise<Probe[]> {
  const dir = await ctx.serverDir("template-");
  const dataDir = join(dir, "data");
  await initdb(ctx.tools, dataDir, true);
  const server = await startDirect(ctx.tools, dataDir, dir);
  ctx.cleanup.defer(() => stop(server));
  await psqlFile(ctx.tools, server, chinook().psqlArgs[2] as string);
  const databases = [{ name: "chinook", workload: "chinook" }];
  if (ctx.config.templateLadder) {
    for (const scale of ctx.config.scales) {
      const name = `pgbench_s${scale}`;
      await psqlCommand(ctx.tools, server, `CREATE DATABASE ${name}`);
      await pgbenchInit(ctx.tools, server, scale, name);
      databases.push({ name, workload: `pgbench-s${scale}` });
    }
  }
  await psqlCommand(ctx.tools, server, "CHECKPOINT");
  const session = new PsqlSession(ctx.tools, server);
  ctx.cleanup.defer(() => session[Symbol.asyncDispose]());
  return templateCloneProbes(ctx, session, databases);
}

/**
 * `CREATE DATABASE … TEMPLATE <db>` both ways (WAL_LOG, FILE_COPY) through one open psql session;
 * `schedule` overrides the sub-second probes' warm-ups and runs (a large database takes seconds).
 */
export function templateCloneProbes(
  ctx: BenchContext,
  session: PsqlSession,
  databases: ReadonlyArray<{ name: string; workload: string }>,
  schedule: { warmup: number; runs: number } = ctx.config,
): Probe[] {
  const probes: Probe[] = [];
  for (const db of databases) {
    for (const strategy of ["wal-log", "file-copy"] as const) {
      const clause = strategy === "file-copy" ? " STRATEGY FILE_COPY" : "";
      const id = `template.${strategy}.${db.workload}`;
      probes.push({
        name: id,
        warmup: schedule.warmup,
        runs: schedule.runs,
        figures: [figure({
          id,
          group: "template",
          workload: db.workload,
          what: `template clone on one running server, ${
            strategy === "file-copy" ? "STRATEGY FILE_COPY" : "default strategy (WAL_LOG)"
          }`,
          command: `CREATE DATABASE t TEMPLATE ${db.name}${clause} (open psql session)`,
          technique: "baseline",
          backend: "ext4",
          runtime: HOST,
          via: "psql session",
        })],
        async run() {
          const name = `bench_t${ctx.next()}`;
          const t0 = performance.now();
          await session.exec(`CREATE DATABASE ${name} TEMPLATE ${db.name}${clause}`);
          const total = since(t0);
          await session.exec(`DROP DATABASE ${name}`);
          return { total };
        },
      });
    }
  }
  return probes;
}

// ---------------------------------------------------------------------------------------------
// Chain with a changing tail (issue 9)

/** The chain's files, shared by every backend. */
export function chainWorkload(ctx: BenchContext): Promise<Chain> {
  return chain(ctx.workDir);
}

/** The fresh-cluster baseline of the chain: all three steps every time. */
export function chainFreshProbe(ctx: BenchContext, c: Chain): Probe {
  return {
    name: "hand.chain.fresh",
    warmup: ctx.config.coldWarmup,
    runs: ctx.config.coldRuns,
    figures: [figure({
      id: "hand.chain.fresh",
      group: "chain",
      workload: "chain-3",
      what: "by hand: fresh cluster running all three steps (initdb + start + 3× psql -f + stop)",
      command: `initdb; ${DIRECT_START}; psql -f Chinook.sql; psql -f chain-2; psql -f chain-3; kill -INT`,
      technique: "baseline",
      backend: "ext4",
      runtime: HOST,
      via: HAND,
    })],
    async run() {
      await nextChainTail(c, ctx.next());
      return await freshCluster(ctx, c.steps, { noSync: false, pgCtl: false });
    },
  };
}

/**
 * The chain built once through `installation` (untimed), and a probe of sqlrs rebuilding only its
 * changed tail; `request` adds to the psql request (an image for a container runtime).
 */
async function chainTailProbe(
  ctx: BenchContext,
  c: Chain,
  installation: Installation,
  spec: { id: string; backend: string; runtime: string; request?: { image_id?: string } },
): Promise<{ probe: Probe; firstJobId: string }> {
  const client = await installation.client();
  const request = () => ({ ...psqlRequest(c.psqlArgs, installation.dir), ...spec.request });
  const first = await apiPrepare(client, request());
  await client.delete("instances", first.instanceId);
  const tail = figure({
    id: spec.id,
    group: "chain",
    workload: "chain-3",
    runtime: spec.runtime,
    backend: spec.backend,
    what: "sqlrs tail-only rebuild (steps 1-2 cached, step 3 new) to a ready DSN, API",
    command: "EngineClient.submitPrepare({psql_args: [-q, -f, Chinook.sql, -f, chain-2, -f, chain-3']})",
    technique: "sqlrs",
    via: "api",
  });
  const probe: Probe = {
    name: tail.id,
    warmup: ctx.config.coldWarmup,
    runs: ctx.config.coldRuns,
    figures: [tail, ...phases(tail, [["steps", "engine: step 3"], ["instance", "engine: instance"]])],
    async run() {
      await nextChainTail(c, ctx.next());
      const p = await apiPrepare(client, request());
      await client.delete("instances", p.instanceId);
      if (p.executedSteps !== 1) throw new Error(`A tail-only rebuild ran ${p.executedSteps} steps, not 1`);
      return { total: p.totalMs, steps: p.phases.steps, instance: p.phases.instance };
    },
  };
  return { probe, firstJobId: first.jobId };
}

/** Tail-only rebuild through sqlrs, and the same by hand on the cached state of step 2. */
export async function chainProbes(ctx: BenchContext, setup: BackendSetup, c: Chain): Promise<Probe[]> {
  const { kind, label, installation, floorDir } = setup;
  const { probe: tail, firstJobId } = await chainTailProbe(ctx, c, installation, {
    id: `chain.tail.api@${kind}`,
    backend: label,
    runtime: HOST,
  });
  const executes = (await (await installation.client()).job(firstJobId)).tasks.filter((t) =>
    t.type === "state_execute"
  );
  const second = executes[1];
  if (second?.type !== "state_execute") throw new Error("The chain's plan has no second step");
  const secondDir = await stateDirOf(installation.storeRoot, second.output_state_id);
  const socketDir = await ctx.serverDir("sock-");
  const common = { group: "chain", workload: "chain-3", runtime: HOST, backend: label };
  return [
    tail,
    {
      name: `floor.chain-tail@${kind}`,
      warmup: ctx.config.coldWarmup,
      runs: ctx.config.coldRuns,
      figures: [figure({
        ...common,
        id: `floor.chain-tail@${kind}`,
        what:
          "by hand on the cached step-2 state: clone + start + psql -f chain-3 + stop + snapshot + clone + start",
        command: `${CLONE_COMMAND[kind]}; postgres; psql -f chain-3; kill -INT; snapshot; clone; postgres`,
        technique: "baseline",
        via: HAND,
      })],
      async run() {
        await nextChainTail(c, ctx.next());
        const n = ctx.next();
        const [work, state, instance] = ["work", "state", "inst"].map((p) =>
          join(floorDir, `chain-${p}-${n}`)
        ) as [
          string,
          string,
          string,
        ];
        let server: Server | undefined;
        try {
          const t0 = performance.now();
          const workData = await cloneBy(kind, secondDir, work);
          server = await startDirect(ctx.tools, workData, socketDir);
          await psqlFile(ctx.tools, server, c.files[2]);
          await stop(server);
          server = undefined;
          await snapshotBy(kind, workData, state);
          const instanceData = await cloneBy(kind, state, instance);
          server = await startDirect(ctx.tools, instanceData, socketDir);
          return { total: since(t0) };
        } finally {
          if (server !== undefined) await stop(server);
          await removeClone(kind, instance);
          await removeClone(kind, work);
          await removeClone(kind === "overlay" ? "copy" : kind, state);
        }
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Docker (issue 5): sqlrs warm instance with `--image` against a bare `docker run` to ready

const DOCKER_IMAGE = "sqlrs-local/postgres:15";
const DOCKER_SQL = ["-c", "create table t(id int)"];
const DOCKER_READY_POLL_MS = 2;
const DOCKER_START_TIMEOUT_MS = 60_000;

/** Whether docker and the local image can be used here: undefined when they can, else why not. */
async function dockerUnavailable(): Promise<string | undefined> {
  const info = await run(["docker", "info", "--format", "{{.ServerVersion}}"]).catch((e) => ({
    code: -1,
    stdout: "",
    stderr: e instanceof Error ? e.message : String(e),
  }));
  if (info.code !== 0) return `docker is not usable: ${info.stderr.trim().split("\n")[0]}`;
  const image = await run(["docker", "image", "inspect", "--format", "{{.Id}}", DOCKER_IMAGE]);
  if (image.code !== 0) return `the image ${DOCKER_IMAGE} is not present locally`;
  return undefined;
}

async function removeContainer(name: string): Promise<void> {
  await run(["docker", "rm", "-f", "-v", name]).catch(() => undefined);
}

/** Polls the status line of `postmaster.pid` (bind-mounted) until "ready"; checks the container now and then. */
async function waitPidReady(dataDir: string, name: string): Promise<void> {
  const deadline = performance.now() + DOCKER_START_TIMEOUT_MS;
  let nextStateCheck = performance.now() + 250;
  for (;;) {
    try {
      const lines = (await Deno.readTextFile(join(dataDir, "postmaster.pid"))).split("\n");
      if (lines[7]?.trim() === "ready") return;
    } catch {
      // not written yet
    }
    if (performance.now() > nextStateCheck) {
      nextStateCheck = performance.now() + 250;
      const state = await run(["docker", "inspect", "--format", "{{.State.Running}}", name]);
      if (state.stdout.trim() !== "true") {
        const logs = await run(["docker", "logs", "--tail", "10", name]);
        throw new Error(`The bare container ${name} stopped before ready: ${logs.stderr}${logs.stdout}`);
      }
    }
    if (performance.now() > deadline) throw new Error(`The bare container ${name} was not ready in time`);
    await new Promise((resolve) => setTimeout(resolve, DOCKER_READY_POLL_MS));
  }
}

/** A new sqlrs installation (store on ext4, `auto` backend) with the docker runtime forced. */
async function dockerInstallation(dir: string): Promise<Installation> {
  const installation = await Installation.create(dir);
  installation.env.SQLRS_CONTAINER_RUNTIME = "docker";
  return installation;
}

/**
 * The docker suite: a warm sqlrs prepare with `image_id` (docker runtime) to a ready DSN through the API
 * and the CLI, the instance delete (timed apart), a cold prepare of Chinook and a tail-only rebuild of
 * the chain, against a bare `docker run -d` of the same image on a copy of an initdb'd data directory,
 * timed to ready. Resolves with a reason instead when docker cannot be used.
 */
export async function dockerProbes(
  ctx: BenchContext,
  c: Chain,
): Promise<{ probes: Probe[]; skipped?: string }> {
  const reason = await dockerUnavailable();
  if (reason !== undefined) return { probes: [], skipped: reason };
  const cheap = { warmup: ctx.config.warmup, runs: ctx.config.runs };
  const common = { runtime: "docker", workload: "table t", backend: "auto (ext4)" };
  const image = { image_id: DOCKER_IMAGE };

  // sqlrs: its own installation (state dir under the bench root), docker forced.
  const installation = await dockerInstallation(join(ctx.root, "sqlrs-docker"));
  ctx.cleanup.defer(() => installation.dispose());
  const client = await installation.client();
  const request = { ...psqlRequest(DOCKER_SQL, installation.dir), ...image };
  const started = performance.now();
  const built = await apiPrepare(client, request);
  await client.delete("instances", built.instanceId);
  ctx.log(`  docker: state built in ${(since(started) / 1000).toFixed(1)} s`);

  // Bare docker: one data directory made by the image's own initdb, as the image's postgres user.
  const owner = (await runOk([
    "docker",
    "run",
    "--rm",
    "--pull",
    "never",
    "--entrypoint",
    "sh",
    DOCKER_IMAGE,
    "-c",
    "id -u postgres; id -g postgres",
  ])).trim().split("\n").map(Number);
  const [uid, gid] = [owner[0] as number, owner[1] as number];
  const bareRoot = join(ctx.root, "docker-bare");
  await Deno.mkdir(bareRoot, { mode: 0o755 });
  await Deno.chown(bareRoot, uid, gid);
  const template = join(bareRoot, "template");
  await runOk([
    "docker",
    "run",
    "--rm",
    "--pull",
    "never",
    "--user",
    `${uid}:${gid}`,
    "-v",
    `${bareRoot}:${bareRoot}`,
    "--entrypoint",
    "initdb",
    DOCKER_IMAGE,
    "-D",
    template,
    "-U",
    "postgres",
    "-E",
    "UTF8",
    "--locale=C",
    "--auth=trust",
  ]);
  const containers = new Set<string>();
  ctx.cleanup.defer(async () => {
    for (const name of containers) await removeContainer(name);
    await removeTree(bareRoot);
  });

  const warm = figure({
    ...common,
    id: "docker.warm.api",
    group: "docker",
    what: `sqlrs warm prepare (cache hit) with --image ${DOCKER_IMAGE} to a ready DSN, API`,
    command:
      `EngineClient.submitPrepare({image_id: "${DOCKER_IMAGE}", psql_args: -c 'create table t(id int)'})` +
      " + jobEvents until result",
    technique: "sqlrs",
    via: "api",
  });
  const del = figure({
    ...common,
    id: "docker.delete.api",
    metric: "delete",
    group: "delete",
    what: "sqlrs instance delete (docker container), API",
    command: "EngineClient.delete('instances', id)",
    technique: "sqlrs",
    via: "api",
  });
  const bare = figure({
    ...common,
    id: "docker.bare.run",
    group: "docker",
    workload: "empty cluster",
    backend: "cp -a (ext4)",
    what: "bare docker run -d of the same image on a copy of an initdb'd data dir, to ready (copy untimed)",
    command:
      `docker run -d --user UID:GID --stop-signal SIGINT -p 127.0.0.1::5432 -v DIR:DIR ${DOCKER_IMAGE} ` +
      "postgres -D DIR + poll postmaster.pid every 2 ms; docker rm -f (untimed)",
    technique: "baseline",
    via: HAND,
  });
  const copy = figure({
    ...common,
    id: "docker.bare.copy",
    metric: "copy",
    group: "clone",
    workload: "empty cluster",
    backend: "cp -a (ext4)",
    what: "copy of the initdb'd data dir for the bare run (not part of docker.bare.run)",
    command: "cp -a TEMPLATE DIR",
    technique: "baseline",
    via: HAND,
  });

  const warmCli = figure({
    ...common,
    id: "docker.warm.cli",
    group: "warm",
    what:
      `sqlrs warm prepare (cache hit) with --image ${DOCKER_IMAGE} to a ready DSN, CLI (process start included)`,
    command: `sqlrs --output json prepare:psql --image ${DOCKER_IMAGE} -- -c 'create table t(id int)'`,
    technique: "sqlrs",
    via: "cli",
  });
  const chinookWork = chinook();
  const cold = figure({
    ...common,
    id: "docker.cold.api",
    group: "cold",
    workload: "chinook",
    what: "sqlrs cold prepare of Chinook with --image, empty store (initdb in a container included), API",
    command: `EngineClient.submitPrepare({image_id: "${DOCKER_IMAGE}", psql_args: [-q, -f, Chinook.sql]})`,
    technique: "sqlrs",
    via: "api",
  });
  const { probe: chainTail } = await chainTailProbe(ctx, c, installation, {
    id: "chain.tail.api@docker",
    backend: common.backend,
    runtime: "docker",
    request: image,
  });

  const probes: Probe[] = [chainTail, {
    name: cold.id,
    warmup: ctx.config.coldWarmup,
    runs: ctx.config.coldRuns,
    figures: [
      cold,
      ...phases(cold, [
        ["initdb", "engine: initdb of the base (in a container)"],
        ["steps", "engine: step (clone, container start, psql, stop, snapshot)"],
        ["instance", "engine: instance (clone + container start to ready)"],
      ]),
    ],
    async run() {
      const fresh = await dockerInstallation(join(ctx.root, `docker-cold-${ctx.next()}`));
      try {
        const p = await apiPrepare(await fresh.client(), {
          ...psqlRequest(chinookWork.psqlArgs, fresh.dir),
          ...image,
        });
        return { total: p.totalMs, ...p.phases };
      } finally {
        await fresh.dispose();
      }
    },
  }, {
    name: warmCli.id,
    ...cheap,
    figures: [warmCli],
    async run() {
      const prepared = await cliPrepare(installation, DOCKER_SQL, ["--image", DOCKER_IMAGE]);
      await client.delete("instances", prepared.instanceId);
      return { total: prepared.ms };
    },
  }, {
    name: warm.id,
    ...cheap,
    figures: [
      warm,
      ...phases(warm, [
        ["clone", "engine: clone of the state (engine log)"],
        ["start", "engine: container start to ready (engine log)"],
        ["other", "rest: planning, job, events, registry, HTTP"],
      ]),
      del,
    ],
    async run() {
      await installation.newLogLines();
      const p = await apiPrepare(client, request);
      const timings = instanceTimings(await installation.newLogLines(), p.instanceId);
      const t = performance.now();
      await client.delete("instances", p.instanceId);
      const deleteMs = since(t);
      if (p.executedSteps !== 0) throw new Error(`A warm docker prepare ran ${p.executedSteps} steps`);
      return {
        total: p.totalMs,
        clone: timings?.clone ?? NaN,
        start: timings?.start ?? NaN,
        other: timings === undefined ? NaN : p.totalMs - timings.clone - timings.start,
        delete: deleteMs,
      };
    },
  }, {
    name: bare.id,
    ...cheap,
    figures: [bare, copy],
    async run() {
      const n = ctx.next();
      const dataDir = join(bareRoot, `clone-${n}`);
      const name = `sqlrs-bench-bare-${Deno.pid}-${n}`;
      try {
        const t0 = performance.now();
        await runOk(["cp", "-a", "-T", template, dataDir]);
        const copyMs = since(t0);
        containers.add(name);
        const t1 = performance.now();
        await runOk([
          "docker",
          "run",
          "-d",
          "--name",
          name,
          "--pull",
          "never",
          "--user",
          `${uid}:${gid}`,
          "--stop-signal",
          "SIGINT",
          "-p",
          "127.0.0.1::5432",
          "-v",
          `${dataDir}:${dataDir}`,
          DOCKER_IMAGE,
          "postgres",
          "-D",
          dataDir,
          "-c",
          "listen_addresses=*",
        ]);
        await waitPidReady(dataDir, name);
        return { total: since(t1), copy: copyMs };
      } finally {
        await removeContainer(name);
        containers.delete(name);
        await removeTree(dataDir);
      }
    },
  }];
  return { probes };
}

// ---------------------------------------------------------------------------------------------
// A long migration history (issue 15)

/** How many migrations the series probe generates. */
export const SERIES_STEPS = 150;

/**
 * The migration series on one backend's filesystem `fs`: a cold prepare of all of it (empty store,
 * initdb of the base included) against initdb + one psql over every file + stop on the same
 * filesystem; then, on one warm installation, editing the last migration and adding a new one, each
 * of which must run exactly one step.
 */
export async function seriesProbes(ctx: BenchContext, kind: BackendKind, fs: string): Promise<Probe[]> {
  const label = BACKEND_INFO[kind].label;
  const common = { group: "series", workload: `series-${SERIES_STEPS}`, runtime: HOST, backend: label };
  const cold = await migrationSeries(join(ctx.workDir, `series-${kind}`), SERIES_STEPS);
  const args = (series: Series) => ["-q", ...series.files.flatMap((file) => ["-f", file])];
  const emptyInstallation = (name: string) =>
    Installation.create(join(ctx.root, name), {
      storeRoot: join(fs, `${name}-store`),
      backend: BACKEND_INFO[kind].engine,
    });

  const coldApi = figure({
    ...common,
    id: `series.cold.api@${kind}`,
    what: `sqlrs cold prepare of ${SERIES_STEPS} small migrations (one -f each), empty store, API`,
    command: `EngineClient.submitPrepare({psql_args: [-q, -f 0001_….sql, …, -f ${SERIES_STEPS}_….sql]})`,
    technique: "sqlrs",
    via: "api",
  });
  const hand = figure({
    ...common,
    id: `hand.series@${kind}`,
    what: `by hand: initdb + direct start + one psql over the ${SERIES_STEPS} files + fast stop`,
    command:
      `initdb -U postgres -E UTF8 --locale=C; ${DIRECT_START}; psql -X -q -v ON_ERROR_STOP=1 -f … -f …; kill -INT`,
    technique: "baseline",
    via: HAND,
  });

  // The warm installations of the edit and add probes: the whole series built once, untimed.
  const warm = async (name: string) => {
    const series = await migrationSeries(join(ctx.workDir, `series-${name}-${kind}`), SERIES_STEPS);
    const installation = await ctx.installation(`series-${name}-${kind}`, {
      storeRoot: join(fs, `series-${name}-store`),
      backend: BACKEND_INFO[kind].engine,
    });
    const client = await installation.client();
    const first = await apiPrepare(client, psqlRequest(args(series), installation.dir));
    await client.delete("instances", first.instanceId);
    return { series, installation, client };
  };
  const oneStep = async (
    target: Awaited<ReturnType<typeof warm>>,
    change: (series: Series, n: number) => Promise<void>,
  ): Promise<Sample> => {
    await change(target.series, ctx.next());
    const p = await apiPrepare(target.client, psqlRequest(args(target.series), target.installation.dir));
    await target.client.delete("instances", p.instanceId);
    if (p.executedSteps !== 1) throw new Error(`A one-migration change ran ${p.executedSteps} steps, not 1`);
    return { total: p.totalMs, steps: p.phases.steps, instance: p.phases.instance };
  };
  const edit = await warm("edit");
  const add = await warm("add");
  const changeFigure = (id: string, what: string) =>
    figure({
      ...common,
      id: `${id}@${kind}`,
      what,
      command: "EngineClient.submitPrepare({psql_args: [-q, -f …]}) after the change",
      technique: "sqlrs",
      via: "api",
    });
  const editFigure = changeFigure(
    "series.edit-last.api",
    "sqlrs: the last migration edited (one step runs), API",
  );
  const addFigure = changeFigure("series.add-new.api", "sqlrs: a new migration added (one step runs), API");
  const changePhases = (parent: FigureSpec) =>
    phases(parent, [["steps", "engine: the changed step"], ["instance", "engine: instance"]]);

  return [
    {
      name: coldApi.id,
      warmup: ctx.config.coldWarmup,
      runs: ctx.config.coldRuns,
      figures: [
        coldApi,
        ...phases(coldApi, [
          ["initdb", "engine: initdb of the base"],
          ["steps", `engine: ${SERIES_STEPS} steps (one server, states kept by cost)`],
          ["instance", "engine: instance (clone + start to ready)"],
        ]),
      ],
      async run() {
        const installation = await emptyInstallation(`series-cold-${ctx.next()}`);
        try {
          const p = await apiPrepare(await installation.client(), psqlRequest(args(cold), installation.dir));
          if (p.executedSteps !== SERIES_STEPS) {
            throw new Error(`The cold series ran ${p.executedSteps} steps, not ${SERIES_STEPS}`);
          }
          return { total: p.totalMs, ...p.phases };
        } finally {
          await installation.dispose();
        }
      },
    },
    {
      name: hand.id,
      warmup: ctx.config.coldWarmup,
      runs: ctx.config.coldRuns,
      figures: [
        hand,
        ...phases(hand, [["initdb", "initdb"], ["start", "start to ready"], ["psql", "one psql -f … -f …"], [
          "stop",
          "stop",
        ]]),
      ],
      run: () =>
        freshCluster(ctx, [{ file: cold.files, database: "postgres" }], {
          noSync: false,
          pgCtl: false,
          parent: fs,
        }),
    },
    {
      name: editFigure.id,
      warmup: ctx.config.warmup,
      runs: ctx.config.coldRuns,
      figures: [editFigure, ...changePhases(editFigure)],
      run: () => oneStep(edit, editSeriesTail),
    },
    {
      name: addFigure.id,
      warmup: ctx.config.warmup,
      runs: ctx.config.coldRuns,
      figures: [addFigure, ...changePhases(addFigure)],
      run: () => oneStep(add, addSeriesStep),
    },
  ];
}
