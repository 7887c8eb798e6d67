/**
 * The warm pool (issue 18), side by side in one run: a pooled and an unpooled hand-out through a
 * `mod.ts` session and through the CLI, a pooled hand-out to its first query, 1, 10 and 50 concurrent
 * hand-outs from a pool of 10 and 10 without a pool, a reset from the pool and without it, hand-outs
 * of a `pgbench -i` state (scale 100 in a full run), the engine's memory, and what they are measured
 * against: `sqlrs --version`, a bare `psql DSN -c 'select 1'`, a by-hand server restart, and template
 * clones of the same data.
 *
 * @module
 */

import { join } from "node:path";
import * as sqlrs from "../mod.ts";
import { engineRssProbe } from "./_engine_rss.ts";
import { run } from "./_exec.ts";
import { backendAvailable, backendFilesystem, type Installation } from "./_fixtures.ts";
import { type Probe, since } from "./_harness.ts";
import { initdb, pgbenchInit, psqlCommand, PsqlSession, startDirect, stop } from "./_postgres.ts";
import { type BenchContext, cliStartProbe, figure, templateCloneProbes } from "./_suites.ts";
import { pgbench } from "./_workloads.ts";

/** The pooled and the unpooled state: the same small table, two states (the pool is per state). */
const TABLE = "create table t(id int primary key, v text); insert into t select g, md5(g::text) " +
  "from generate_series(1, 1000) g";
const POOLED = ["-c", `${TABLE}; comment on table t is 'pooled'`];
const UNPOOLED = ["-c", `${TABLE}; comment on table t is 'unpooled'`];
const POOL_SIZE = 10;
/** Warm instances of the pgbench state: one per hand-out, refilled between runs. */
const PGBENCH_POOL_SIZE = 2;

interface PoolStatus {
  idle: Record<string, number>;
  starting: number;
}

/** Waits (untimed) until the pool holds `count` ready warm instances of `stateId` and starts none. */
async function poolReady(installation: Installation, stateId: string, count: number): Promise<void> {
  const client = await installation.client();
  const deadline = Date.now() + 120_000;
  for (;;) {
    const status = await (await client.request("GET", "/v1/pool")).json() as PoolStatus;
    if ((status.idle[stateId] ?? 0) >= count && status.starting === 0) return;
    if (Date.now() > deadline) throw new Error(`the pool did not fill: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The pool group's probes (its own installation; btrfs when the machine has it, else copies). */
export async function poolProbes(ctx: BenchContext): Promise<Probe[]> {
  const backend = (await backendAvailable("btrfs")).available ? "btrfs" : "copy";
  // A filesystem of its own: the full run's backend suites have theirs at ctx.root.
  const poolRoot = join(ctx.root, "pool");
  await Deno.mkdir(poolRoot, { recursive: true, mode: 0o755 });
  const fs = await backendFilesystem(poolRoot, backend, ctx.config.loopGiB);
  const installation = await ctx.installation("sqlrs-pool", { storeRoot: join(fs, "pool-store"), backend });
  const client = await installation.client();
  const session = await sqlrs.session({ env: installation.env, cwd: installation.dir, idleTimeout: "3600s" });
  ctx.cleanup.defer(() => session.close());
  const pooledState = (await session.prepare({ psql: POOLED })).stateId;
  const unpooled = await session.prepare({ psql: UNPOOLED });

  // The template baseline at scale: `pgbench -i` into a sqlrs state and into a database of a server
  // of its own, both at once (untimed). The largest scale of the mode: 100 in a full run.
  const scale = ctx.config.scales[ctx.config.scales.length - 1] as number;
  const bench = await pgbench(ctx.workDir, ctx.tools.pgbench, scale);
  // The same data one small step further: a state of its own, with no pool.
  const benchUnpooled = [...bench.psqlArgs, "-c", "comment on table pgbench_accounts is 'unpooled'"];
  const templateDir = await ctx.serverDir("pool-template-");
  await initdb(ctx.tools, join(templateDir, "data"), true);
  const templateServer = await startDirect(ctx.tools, join(templateDir, "data"), templateDir);
  ctx.cleanup.defer(() => stop(templateServer));
  const benchDb = `pgbench_s${scale}`;
  const [benchState] = await Promise.all([
    session.prepare({ psql: bench.psqlArgs }).then(async (db) => {
      await db.delete();
      await (await session.prepare({ psql: benchUnpooled })).delete();
      return db.stateId;
    }),
    (async () => {
      await psqlCommand(ctx.tools, templateServer, `CREATE DATABASE ${benchDb}`);
      await pgbenchInit(ctx.tools, templateServer, scale, benchDb);
    })(),
  ]);
  await psqlCommand(ctx.tools, templateServer, "CREATE DATABASE small");
  await psqlCommand(ctx.tools, templateServer, TABLE, "small");
  await psqlCommand(ctx.tools, templateServer, "CHECKPOINT");
  const templateSession = new PsqlSession(ctx.tools, templateServer);
  ctx.cleanup.defer(() => templateSession[Symbol.asyncDispose]());

  // `pool` is one object: both pooled states in one call.
  await client.configSet("pool", {
    size: 0,
    maxIdle: 60,
    states: { [pooledState]: POOL_SIZE, [benchState]: PGBENCH_POOL_SIZE },
  });
  await session.prepare({ psql: POOLED });
  await (await session.prepare({ psql: bench.psqlArgs })).delete();
  await poolReady(installation, pooledState, POOL_SIZE);
  await poolReady(installation, benchState, PGBENCH_POOL_SIZE);
  const where = `${backend} (${backend === "btrfs" ? "loop" : "ext4"})`;
  const common = { workload: "small", backend: where, runtime: "host" } as const;

  /**
   * A timed hand-out (or several at once) through the session, with `firstQuery` up to a bare psql's
   * `select 1` on the DSN; `pool` is the state whose warm instances are waited for (untimed), as are
   * the deletes.
   */
  const handOuts = (
    id: string,
    what: string,
    args: string[],
    options: {
      concurrent?: number;
      pool?: [stateId: string, size: number];
      firstQuery?: boolean;
      workload?: string;
    } = {},
  ): Probe => {
    const { concurrent = 1, pool, firstQuery = false } = options;
    return {
      name: id,
      warmup: ctx.config.warmup,
      runs: ctx.config.runs,
      figures: [figure({
        ...common,
        workload: options.workload ?? common.workload,
        id,
        group: "pool",
        what,
        command: `await session.prepare({ psql }) x${concurrent}${pool ? ` (pool of ${pool[1]} ready)` : ""}${
          firstQuery ? "; psql DSN -X -q -c 'select 1'" : ""
        }`,
        technique: "sqlrs",
        via: "mod.ts session",
      })],
      async run() {
        if (pool) await poolReady(installation, ...pool);
        const t0 = performance.now();
        const dbs = await Promise.all(
          Array.from({ length: concurrent }, () => session.prepare({ psql: args })),
        );
        if (firstQuery) await Promise.all(dbs.map((db) => select1(ctx, db.dsn)));
        const total = since(t0);
        await Promise.all(dbs.map((db) => db.delete()));
        return { total };
      },
    };
  };
  const pooled: [string, number] = [pooledState, POOL_SIZE];
  const benchPooled: [string, number] = [benchState, PGBENCH_POOL_SIZE];

  const db = await session.prepare({ psql: POOLED });
  const restartDir = await ctx.serverDir("restart-");
  await initdb(ctx.tools, join(restartDir, "data"), true);
  let restarted = await startDirect(ctx.tools, join(restartDir, "data"), restartDir);
  ctx.cleanup.defer(() => stop(restarted));

  return [
    // First, so that it reads the engine idle: round 0 runs the probes in this order.
    engineRssProbe(installation, unpooled.instanceId),
    handOuts("pool.handout.unpooled", "hand-out of a cached state, no pool", UNPOOLED),
    handOuts("pool.handout.pooled", "hand-out of a cached state from its warm pool", POOLED, {
      pool: pooled,
    }),
    handOuts(
      "pool.first_query.pooled",
      "hand-out from the warm pool to the first successful query (a bare psql select 1 on the DSN)",
      POOLED,
      { pool: pooled, firstQuery: true },
    ),
    handOuts("pool.concurrent.10", `10 concurrent hand-outs, pool of ${POOL_SIZE}`, POOLED, {
      concurrent: 10,
      pool: pooled,
    }),
    handOuts("pool.concurrent.50", `50 concurrent hand-outs, pool of ${POOL_SIZE}`, POOLED, {
      concurrent: 50,
      pool: pooled,
    }),
    handOuts("pool.concurrent.10.unpooled", "10 concurrent hand-outs of a state without a pool", UNPOOLED, {
      concurrent: 10,
    }),
    handOuts(
      `pool.handout.pooled.${bench.name}`,
      `hand-out of pgbench -i -s ${scale} from its warm pool`,
      bench.psqlArgs,
      {
        pool: benchPooled,
        workload: bench.name,
      },
    ),
    handOuts(
      `pool.handout.unpooled.${bench.name}`,
      `hand-out of pgbench -i -s ${scale} (+ a comment), no pool`,
      benchUnpooled,
      { workload: bench.name },
    ),
    {
      name: "pool.cli.pooled",
      warmup: ctx.config.warmup,
      runs: ctx.config.runs,
      figures: [figure({
        ...common,
        id: "pool.cli.pooled",
        group: "pool",
        what: "CLI prepare of a cached state with a warm pool, process start included",
        command: `sqlrs --output json prepare:psql -- ${POOLED.join(" ").slice(0, 40)}…`,
        technique: "sqlrs",
        via: "cli",
      })],
      async run() {
        await poolReady(installation, pooledState, POOL_SIZE);
        const result = await installation.cli(["--output", "json", "prepare:psql", "--", ...POOLED]);
        if (result.code !== 0) throw new Error(`sqlrs prepare:psql exited ${result.code}: ${result.stderr}`);
        await client.delete("instances", JSON.parse(result.stdout).instance_id, { force: true });
        return { total: result.ms };
      },
    },
    cliStartProbe(ctx, installation),
    {
      name: "pool.psql.select1",
      warmup: ctx.config.warmup,
      runs: ctx.config.runs,
      figures: [figure({
        ...common,
        id: "pool.psql.select1",
        group: "pool",
        what: "a bare psql to a running instance",
        command: "psql DSN -X -q -c 'select 1'",
        technique: "baseline",
        via: "by hand",
      })],
      async run() {
        const t0 = performance.now();
        await select1(ctx, unpooled.dsn);
        return { total: since(t0) };
      },
    },
    ...["pooled", "unpooled"].map((kind): Probe => ({
      name: `pool.reset.${kind}`,
      warmup: ctx.config.warmup,
      runs: ctx.config.runs,
      figures: [figure({
        ...common,
        id: `pool.reset.${kind}`,
        group: "pool",
        what: kind === "pooled"
          ? "reset with warm instances of the state ready (one is taken on the copy backend only)"
          : "reset of an instance whose state has no pool",
        command: "await db.reset()",
        technique: "sqlrs",
        via: "mod.ts session",
      })],
      async run() {
        const target = kind === "pooled" ? db : unpooled;
        await target.run({ psql: ["-c", "insert into t values (0, 'changed')"] });
        if (kind === "pooled") await poolReady(installation, pooledState, POOL_SIZE);
        const t0 = performance.now();
        await target.reset();
        return { total: since(t0) };
      },
    })),
    {
      name: "pool.restart.hand",
      warmup: ctx.config.warmup,
      runs: ctx.config.runs,
      figures: [figure({
        ...common,
        id: "pool.restart.hand",
        group: "pool",
        what: "restart of a server by hand (fast stop, direct start to ready)",
        command: "kill -INT postmaster; postgres -D data (postmaster.pid ready)",
        technique: "baseline",
        backend: "ext4",
        via: "by hand",
      })],
      async run() {
        const t0 = performance.now();
        await stop(restarted);
        restarted = await startDirect(ctx.tools, join(restartDir, "data"), restartDir);
        return { total: since(t0) };
      },
    },
    ...templateCloneProbes(ctx, templateSession, [{ name: "small", workload: "small" }]),
    // A clone of the large database takes seconds: the cold probes' runs. Its own ids: a full run's
    // template suite measures a pgbench database of the same scale on another server.
    ...templateCloneProbes(ctx, templateSession, [{ name: benchDb, workload: `pool-${bench.name}` }], {
      warmup: ctx.config.coldWarmup,
      runs: ctx.config.coldRuns,
    }),
  ];
}

/** A bare `psql DSN -X -q -c 'select 1'` (process start + login + query); throws unless it succeeds. */
async function select1(ctx: BenchContext, dsn: string): Promise<void> {
  const result = await run([ctx.tools.psql, dsn, "-X", "-q", "-c", "select 1"], { cwd: "/" });
  if (result.code !== 0) throw new Error(`psql exited ${result.code}: ${result.stderr}`);
}
