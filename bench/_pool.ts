/**
 * The warm pool (issue 18), side by side in one run: a pooled and an unpooled hand-out through a
 * `mod.ts` session and through the CLI, 1, 10 and 50 concurrent hand-outs from a pool of 10, a reset
 * from the pool and without it, and what they are measured against: `sqlrs --version`, a bare
 * `psql DSN -c 'select 1'`, a by-hand server restart, and template clones of the same state.
 *
 * @module
 */

import { join } from "node:path";
import * as sqlrs from "../mod.ts";
import { run } from "./_exec.ts";
import { backendAvailable, backendFilesystem, type Installation } from "./_fixtures.ts";
import { type Probe, since } from "./_harness.ts";
import { initdb, psqlCommand, PsqlSession, startDirect, stop } from "./_postgres.ts";
import { type BenchContext, cliStartProbe, figure, templateCloneProbes } from "./_suites.ts";

/** The pooled and the unpooled state: the same small table, two states (the pool is per state). */
const TABLE = "create table t(id int primary key, v text); insert into t select g, md5(g::text) " +
  "from generate_series(1, 1000) g";
const POOLED = ["-c", `${TABLE}; comment on table t is 'pooled'`];
const UNPOOLED = ["-c", `${TABLE}; comment on table t is 'unpooled'`];
const POOL_SIZE = 10;

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
  await client.configSet("pool", { size: 0, maxIdle: 60, states: { [pooledState]: POOL_SIZE } });
  await session.prepare({ psql: POOLED });
  await poolReady(installation, pooledState, POOL_SIZE);
  const where = `${backend} (${backend === "btrfs" ? "loop" : "ext4"})`;
  const common = { workload: "small", backend: where, runtime: "host" } as const;

  /** A timed hand-out (or several at once) through the session; deletes are untimed. */
  const handOuts = (
    id: string,
    what: string,
    args: string[],
    concurrent: number,
    pooled: boolean,
  ): Probe => ({
    name: id,
    warmup: ctx.config.warmup,
    runs: ctx.config.runs,
    figures: [figure({
      ...common,
      id,
      group: "pool",
      what,
      command: `await session.prepare({ psql }) x${concurrent}${
        pooled ? ` (pool of ${POOL_SIZE} ready)` : ""
      }`,
      technique: "sqlrs",
      via: "mod.ts session",
    })],
    async run() {
      if (pooled) await poolReady(installation, pooledState, POOL_SIZE);
      const t0 = performance.now();
      const dbs = await Promise.all(
        Array.from({ length: concurrent }, () => session.prepare({ psql: args })),
      );
      const total = since(t0);
      await Promise.all(dbs.map((db) => db.delete()));
      return { total };
    },
  });

  const db = await session.prepare({ psql: POOLED });
  const restartDir = await ctx.serverDir("restart-");
  await initdb(ctx.tools, join(restartDir, "data"), true);
  let restarted = await startDirect(ctx.tools, join(restartDir, "data"), restartDir);
  ctx.cleanup.defer(() => stop(restarted));
  const templateDir = await ctx.serverDir("pool-template-");
  await initdb(ctx.tools, join(templateDir, "data"), true);
  const templateServer = await startDirect(ctx.tools, join(templateDir, "data"), templateDir);
  ctx.cleanup.defer(() => stop(templateServer));
  await psqlCommand(ctx.tools, templateServer, "CREATE DATABASE small");
  await psqlCommand(ctx.tools, templateServer, TABLE, "small");
  await psqlCommand(ctx.tools, templateServer, "CHECKPOINT");
  const templateSession = new PsqlSession(ctx.tools, templateServer);
  ctx.cleanup.defer(() => templateSession[Symbol.asyncDispose]());

  return [
    handOuts("pool.handout.unpooled", "hand-out of a cached state, no pool", UNPOOLED, 1, false),
    handOuts("pool.handout.pooled", "hand-out of a cached state from its warm pool", POOLED, 1, true),
    handOuts("pool.concurrent.10", `10 concurrent hand-outs, pool of ${POOL_SIZE}`, POOLED, 10, true),
    handOuts("pool.concurrent.50", `50 concurrent hand-outs, pool of ${POOL_SIZE}`, POOLED, 50, true),
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
        command: "psql DSN -X -c 'select 1'",
        technique: "baseline",
        via: "by hand",
      })],
      async run() {
        const t0 = performance.now();
        const result = await run([ctx.tools.psql, unpooled.dsn, "-X", "-q", "-c", "select 1"], { cwd: "/" });
        const total = since(t0);
        if (result.code !== 0) throw new Error(`psql exited ${result.code}: ${result.stderr}`);
        return { total };
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
  ];
}
