/**
 * `deno task bench [--quick] [--backends btrfs,overlay,...] [--out DIR]`: sqlrs against the techniques
 * users would otherwise pick, measured side by side and interleaved in one run, on every snapshot backend
 * this machine has. Prints the table, writes `bench/results/latest.json`, `bench/results/latest.svg` and
 * `docs/benchmarks.md` (or `latest.json`, `latest.svg` and `benchmarks.md` in DIR). Needs root for the
 * btrfs, XFS and overlay backends (loop files, mounts).
 *
 * @module
 */

import { dirname, join, relative } from "node:path";
import { run } from "./_exec.ts";
import { runInterleaved } from "./_harness.ts";
import { machineInfo, versions } from "./_machine.ts";
import {
  BACKEND_INFO,
  backendAvailable,
  backendFilesystem,
  type BackendKind,
  BACKENDS,
  detachLoopsUnder,
  stopServersUnder,
  unmountUnder,
} from "./_fixtures.ts";
import { pgTools, removeTree } from "./_postgres.ts";
import {
  backendProbes,
  type BackendSetup,
  BenchContext,
  type BenchMode,
  chainFreshProbe,
  chainProbes,
  chainWorkload,
  cliStartProbe,
  coldProbes,
  configFor,
  dockerProbes,
  SERIES_STEPS,
  seriesProbes,
  setupBackend,
  templateProbes,
} from "./_suites.ts";
import {
  type BackendStatus,
  type BenchResults,
  compare,
  renderMarkdown,
  renderSvg,
  renderText,
} from "./_report.ts";
import { REPO } from "./_workloads.ts";
import { liquibaseProbes } from "./_liquibase.ts";
import { poolProbes } from "./_pool.ts";

/** The probe groups a run can be restricted to (`--only`). */
const BENCH_GROUPS = ["series", "liquibase", "pool"] as const;
type BenchGroup = typeof BENCH_GROUPS[number];

/** Options of one benchmark run. */
export interface BenchOptions {
  mode: BenchMode;
  /** Restrict the snapshot backends (default: every one available). */
  backends?: BackendKind[];
  /** Run only this probe group (the other groups are neither set up nor measured). */
  only?: BenchGroup;
  signal: AbortSignal;
  log(line: string): void;
}

/** Variables that would point the benchmark's engines somewhere else. */
const FOREIGN_ENV = [
  "SQLRS_ENGINE_ADDR",
  "TAIDON_ENGINE_ADDR",
  "SQLRS_STATE_STORE",
  "SQLRS_SNAPSHOT_BACKEND",
  "SQLRS_STORE_IMAGE",
  "SQLRS_TOKEN",
];

/**
 * Runs the whole benchmark and returns its results. Everything it creates (servers, mounts, loop
 * devices, engines, files) lives under one temporary root and is removed before it returns or throws.
 */
export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const started = performance.now();
  for (const name of FOREIGN_ENV) Deno.env.delete(name);
  const config = configFor(options.mode);
  const tools = await pgTools();
  const root = await Deno.makeTempDir({ dir: "/tmp", prefix: "sqlrs-bench-" });
  await Deno.chmod(root, 0o755);
  await using cleanup = new AsyncDisposableStack();
  // Registered first, so it runs last: whatever a failed step left behind under the root.
  cleanup.defer(async () => {
    await stopServersUnder(root);
    await unmountUnder(root);
    await detachLoopsUnder(root);
    await removeTree(root);
  });
  const log = options.log;
  const ctx = new BenchContext(root, tools, config, cleanup, log);
  await Deno.mkdir(ctx.workDir, { mode: 0o755 });

  const machine = await machineInfo(root);
  const toolVersions = await versions(tools.bindir);
  log(`sqlrs bench (${config.mode}) in ${root}: ${machine.cpu}, ${tools.version}`);

  if (options.only === "liquibase" || options.only === "pool") {
    const only = options.only;
    log(`${only}: setting up...`);
    const probes = only === "liquibase"
      ? await liquibaseProbes(ctx, await ctx.installation("sqlrs-liquibase"))
      : await poolProbes(ctx);
    const figures = await runInterleaved(probes, { signal: options.signal, log });
    machine.loadAverageEnd = Deno.loadavg().map((v) => Math.round(v * 100) / 100);
    const { ratios, goals } = compare(figures, { backends: [], scales: config.scales });
    return {
      schema: 1,
      generatedAt: new Date().toISOString(),
      mode: config.mode,
      command: `deno task bench${config.mode === "full" ? "" : ` --${config.mode}`} --only ${only}`,
      durationSeconds: (performance.now() - started) / 1000,
      machine,
      versions: toolVersions,
      settings: { ...config },
      backends: [],
      figures,
      ratios,
      goals: only === "pool" ? goals.filter((goal) => goal.basis.includes("pool")) : goals,
      notes: [`Only the ${only === "liquibase" ? "Liquibase" : "pool"} suite ran (--only ${only}).`],
    };
  }

  // Backends are set up concurrently (untimed: building states is CPU and I/O bound, and the 2-core VM
  // would otherwise spend most of a quick run here); measuring starts only once all are ready.
  const statuses: BackendStatus[] = [];
  const wanted: BackendKind[] = [];
  for (const kind of BACKENDS) {
    const label = BACKEND_INFO[kind].label;
    if (options.backends !== undefined && !options.backends.includes(kind)) {
      statuses.push({ kind, label, available: false, reason: "not selected (--backends)" });
      continue;
    }
    const availability = await backendAvailable(kind);
    if (availability.available) wanted.push(kind);
    else {
      statuses.push({ kind, label, available: false, reason: availability.reason });
      log(`${kind}: skipped, ${availability.reason}`);
    }
  }
  options.signal.throwIfAborted();
  if (options.only === "series") {
    return await runSeriesOnly(ctx, wanted, statuses, { started, machine, toolVersions, options });
  }
  const settled = await Promise.allSettled(wanted.map(async (kind) => {
    const t = performance.now();
    log(`${kind}: building the states...`);
    const setup = await setupBackend(ctx, kind);
    log(`${kind}: ready in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    return setup;
  }));
  const setups: BackendSetup[] = [];
  settled.forEach((outcome, i) => {
    const kind = wanted[i] as BackendKind;
    const label = BACKEND_INFO[kind].label;
    if (outcome.status === "fulfilled") {
      setups.push(outcome.value);
      statuses.push({ kind, label, available: true, reason: "measured" });
      return;
    }
    const message = outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason);
    statuses.push({ kind, label, available: false, reason: `setup failed: ${message.split("\n")[0]}` });
    log(`${kind}: setup failed: ${message}`);
  });
  statuses.sort((a, b) => BACKENDS.indexOf(a.kind as BackendKind) - BACKENDS.indexOf(b.kind as BackendKind));

  options.signal.throwIfAborted();
  log("baselines: template server, chain...");
  const probes = [...coldProbes(ctx, setups)];
  for (const setup of setups) probes.push(...(await backendProbes(ctx, setup)));
  const first = setups[0];
  if (first !== undefined) probes.push(cliStartProbe(ctx, first.installation));
  probes.push(...(await templateProbes(ctx)));
  options.signal.throwIfAborted();
  const chain = await chainWorkload(ctx);
  log("docker: building the states and the bare data directory...");
  let dockerSkipped: string | undefined;
  try {
    const docker = await dockerProbes(ctx, chain);
    probes.push(...docker.probes);
    dockerSkipped = docker.skipped;
  } catch (error) {
    if (options.signal.aborted) throw error;
    dockerSkipped = `setup failed: ${
      (error instanceof Error ? error.message : String(error)).split("\n")[0]
    }`;
  }
  if (dockerSkipped !== undefined) log(`docker suite skipped: ${dockerSkipped}`);
  probes.push(chainFreshProbe(ctx, chain));
  for (const setup of setups.slice(0, config.chainBackends)) {
    options.signal.throwIfAborted();
    probes.push(...(await chainProbes(ctx, setup, chain)));
  }
  for (const setup of setups) probes.push(...(await seriesProbes(ctx, setup.kind, setup.fs)));
  log("liquibase: building the states...");
  probes.push(...(await liquibaseProbes(ctx, await ctx.installation("sqlrs-liquibase"))));
  log("pool: building the states and filling the pool...");
  probes.push(...(await poolProbes(ctx)));

  const setupSeconds = (performance.now() - started) / 1000;
  log(`setup done in ${setupSeconds.toFixed(1)} s; ${probes.length} probes, interleaved`);
  const figures = await runInterleaved(probes, { signal: options.signal, log });
  machine.loadAverageEnd = Deno.loadavg().map((v) => Math.round(v * 100) / 100);
  const measured = setups.map((s) => s.kind);
  const { ratios, goals } = compare(figures, {
    backends: measured,
    scales: config.scales,
    ...(dockerSkipped === undefined ? {} : { dockerSkipped }),
  });
  return {
    schema: 1,
    generatedAt: new Date().toISOString(),
    mode: config.mode,
    command: `deno task bench${config.mode === "full" ? "" : ` --${config.mode}`}`,
    durationSeconds: (performance.now() - started) / 1000,
    machine,
    versions: toolVersions,
    settings: { ...config },
    backends: statuses,
    figures,
    ratios,
    goals,
    notes: [
      "Servers run as the same unprivileged user and with the same options as sqlrs's instances (-c fsync=on, " +
      "listen_addresses=127.0.0.1, a private socket directory); by-hand readiness polls postmaster.pid every 2 ms. " +
      "sqlrs's build servers run with fsync=off: the snapshot of what they keep is made durable by the backend.",
      "The physical floor clones the very state sqlrs clones, with the backend's own mechanism, " +
      "then starts postgres directly; warm sqlrs figures are cache hits (checked: no step ran).",
      "The cold sqlrs prepare also publishes a durable state and starts an instance from it; the by-hand " +
      "run stops after psql. The CLI cold figure includes the engine's start.",
      "Docker: sqlrs runs a warm prepare with image_id (docker runtime forced) of a one-table state and " +
      "deletes the instance (timed apart); the bare run is docker run -d of the same image on a cp -a copy " +
      "of an initdb'd data dir (copy untimed), ready by postmaster.pid through the bind mount, then docker rm -f. " +
      "The docker cold prepare (Chinook) and chain figures use the same image on a store on ext4 (auto backend).",
      "The cold sqlrs figures of each backend use a new installation whose empty store is on that backend's " +
      "filesystem; the by-hand twins run on ext4 (and, in a full run, on the btrfs loop file too).",
      `The pgbench states are made by the real \`pgbench -i -q -s N\` run from inside a psql prepare step (\\!).`,
      `Setup (untimed) took ${
        setupSeconds.toFixed(0)
      } s. The VM is shared: other work on it shows as noise; see the load averages.`,
    ],
  };
}

/** `--only series`: the migration-series probe alone, on each selected backend's own filesystem. */
async function runSeriesOnly(
  ctx: BenchContext,
  kinds: readonly BackendKind[],
  statuses: BackendStatus[],
  run: {
    started: number;
    machine: BenchResults["machine"];
    toolVersions: BenchResults["versions"];
    options: BenchOptions;
  },
): Promise<BenchResults> {
  const probes = [];
  for (const kind of kinds) {
    const fs = await backendFilesystem(ctx.root, kind, ctx.config.loopGiB);
    ctx.log(`${kind}: building the warm series...`);
    probes.push(...(await seriesProbes(ctx, kind, fs)));
    statuses.push({
      kind,
      label: BACKEND_INFO[kind].label,
      available: true,
      reason: "measured (series only)",
    });
  }
  statuses.sort((a, b) => BACKENDS.indexOf(a.kind as BackendKind) - BACKENDS.indexOf(b.kind as BackendKind));
  const figures = await runInterleaved(probes, { signal: run.options.signal, log: ctx.log });
  run.machine.loadAverageEnd = Deno.loadavg().map((v) => Math.round(v * 100) / 100);
  const { ratios, goals } = compare(figures, { backends: [...kinds], scales: ctx.config.scales });
  return {
    schema: 1,
    generatedAt: new Date().toISOString(),
    mode: ctx.config.mode,
    command: `deno task bench --only series${ctx.config.mode === "full" ? "" : ` --${ctx.config.mode}`}`,
    durationSeconds: (performance.now() - run.started) / 1000,
    machine: run.machine,
    versions: run.toolVersions,
    settings: { ...ctx.config, only: "series" },
    backends: statuses,
    figures,
    ratios,
    goals: goals.filter((goal) => goal.basis.includes("series")),
    notes: [
      `Only the migration-series probe ran: ${SERIES_STEPS} generated small migrations (mixed DDL and small inserts).`,
      "Cold: a new installation with an empty store on the backend's filesystem per run (initdb of the base, " +
      "the steps, an instance); by hand: initdb + direct start + one psql over every file + fast stop, same filesystem.",
    ],
  };
}

/** The command line of `deno task bench`. */
interface BenchArgs {
  mode: BenchMode;
  only?: BenchGroup;
  backends?: BackendKind[];
  /** Where the results go instead of bench/results/ and docs/. */
  outDir?: string;
}

function parseArgs(args: readonly string[]): BenchArgs | undefined {
  const parsed: BenchArgs = { mode: "full" };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    // `--name=value` or `--name value`.
    const value = () => arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : args[++i] ?? "";
    if (arg === "--quick") parsed.mode = "quick";
    else if (arg === "--smoke") parsed.mode = "smoke";
    else if (arg === "--only" || arg.startsWith("--only=")) {
      const group = value();
      if (!BENCH_GROUPS.includes(group as BenchGroup)) {
        throw new TypeError(`Cannot run only "${group}": choose from ${BENCH_GROUPS.join(", ")}`);
      }
      parsed.only = group as BenchGroup;
    } else if (arg === "--out" || arg.startsWith("--out=")) {
      parsed.outDir = value();
      if (parsed.outDir === "") throw new TypeError("Cannot use --out without a directory");
    } else if (arg === "--backends" || arg.startsWith("--backends=")) {
      const names = value().split(",").filter((n) => n !== "");
      for (const name of names) {
        if (!BACKENDS.includes(name as BackendKind)) {
          throw new TypeError(`Cannot use backend "${name}": choose from ${BACKENDS.join(", ")}`);
        }
      }
      parsed.backends = names as BackendKind[];
    } else if (arg === "--help" || arg === "-h") return undefined;
    else {
      throw new TypeError(
        `Cannot parse argument "${arg}": use --quick, --smoke, --only series|liquibase|pool, --backends LIST or --out DIR`,
      );
    }
  }
  return parsed;
}

/** Where a run's results go: the repository's by default, /tmp for a smoke or partial run, or `--out DIR`. */
function resultPaths(args: BenchArgs): { json: string; svg: string; markdown?: string } {
  if (args.outDir !== undefined) {
    const dir = args.outDir;
    return {
      json: join(dir, "latest.json"),
      svg: join(dir, "latest.svg"),
      markdown: join(dir, "benchmarks.md"),
    };
  }
  if (args.only !== undefined) {
    return { json: `/tmp/sqlrs-bench-${args.only}.json`, svg: `/tmp/sqlrs-bench-${args.only}.svg` };
  }
  // A smoke run only checks that everything works: it leaves the published results alone.
  if (args.mode === "smoke") {
    return { json: "/tmp/sqlrs-bench-smoke.json", svg: "/tmp/sqlrs-bench-smoke.svg" };
  }
  return {
    json: join(REPO, "bench", "results", "latest.json"),
    svg: join(REPO, "bench", "results", "latest.svg"),
    markdown: join(REPO, "docs", "benchmarks.md"),
  };
}

async function main(): Promise<number> {
  let parsed: BenchArgs | undefined;
  try {
    parsed = parseArgs(Deno.args);
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  if (parsed === undefined) {
    console.log(
      "usage: deno task bench [--quick | --smoke] [--only series|liquibase|pool] [--backends btrfs,xfs-reflink,overlay,copy]\n" +
        "  [--out DIR]\n" +
        "  (full run by default; --quick: under 5 minutes; --smoke: one run of each probe, to try changes;\n" +
        "  --out: write latest.json, latest.svg and benchmarks.md in DIR instead of bench/results/ and docs/)",
    );
    return 0;
  }
  const abort = new AbortController();
  const onSignal = () => {
    if (abort.signal.aborted) Deno.exit(130);
    console.error("\ninterrupted: finishing the current operation, then cleaning up (again to quit at once)");
    abort.abort(new Error("interrupted"));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const t0 = performance.now();
  const log = (line: string) =>
    console.error(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  try {
    const results = await runBench({ ...parsed, signal: abort.signal, log });
    const { json, svg, markdown } = resultPaths(parsed);
    await Deno.mkdir(dirname(json), { recursive: true });
    await Deno.writeTextFile(json, `${JSON.stringify(results, null, 2)}\n`);
    await Deno.writeTextFile(svg, renderSvg(results));
    const written = [json, svg];
    if (markdown !== undefined) {
      await Deno.mkdir(dirname(markdown), { recursive: true });
      await Deno.writeTextFile(markdown, renderMarkdown(results, relative(dirname(markdown), svg)));
      written.push(markdown);
      // Keep `deno fmt --check` green: the committed results are formatted like the rest of the repo.
      await run([Deno.execPath(), "fmt", "--quiet", json, svg], { cwd: REPO }).catch(() => undefined);
    }
    console.log(renderText(results));
    log(`wrote ${written.join(", ")}`);
    return results.figures.some((f) => f.error !== undefined) ? 1 : 0;
  } catch (error) {
    if (abort.signal.aborted) {
      console.error("bench interrupted: everything it made was cleaned up, no results written");
      return 130;
    }
    console.error(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await main());
