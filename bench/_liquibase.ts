/**
 * The Liquibase probe: a generated changelog of 40 changesets (mixed DDL and small inserts), prepared
 * cold by sqlrs against one by-hand `liquibase update` on a fresh cluster, and a warm `prepare:lb`
 * against a warm `prepare:psql` of the same final state, all in one run.
 *
 * @module
 */

import { join } from "node:path";
import type { Probe, Sample } from "./_harness.ts";
import type { Installation } from "./_fixtures.ts";
import { initdb, removeTree, type Server, startDirect, stop } from "./_postgres.ts";
import { apiPrepare, psqlRequest } from "./_sqlrs.ts";
import type { BenchContext } from "./_suites.ts";
import { findLiquibase, runLiquibase } from "../engine/prepare/liquibase/lb_tool.ts";
import type { PrepareJobRequest } from "../shared/schemas.ts";

/** How many changesets the Liquibase workload has. */
export const LB_CHANGESETS = 40;

/** The SQL of changeset `i` (1-based): a table every fourth, else a small insert or an index. */
function changesetSql(i: number): string {
  const table = `t${Math.floor((i - 1) / 4) + 1}`;
  switch ((i - 1) % 4) {
    case 0:
      return `create table ${table}(id int primary key, name text not null, created date);`;
    case 1:
      return `insert into ${table} values (1, 'one', '2024-01-01'), (2, 'two', '2024-01-02');`;
    case 2:
      return `create index ${table}_name on ${table}(name);`;
    default:
      return `alter table ${table} add column note text; insert into ${table} values (3, 'three', null, 'n');`;
  }
}

/**
 * Writes the workload into `dir`: `changelog.sql` (formatted SQL, author `author`, so that each cold
 * run can have changesets nothing cached) and `final.sql`, the same final state for psql.
 */
async function writeWorkload(dir: string, author: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const sections = ["--liquibase formatted sql", ""];
  const plain: string[] = [];
  for (let i = 1; i <= LB_CHANGESETS; i++) {
    sections.push(`--changeset ${author}:${i}`, changesetSql(i), "");
    plain.push(changesetSql(i));
  }
  await Deno.writeTextFile(join(dir, "changelog.sql"), sections.join("\n"));
  await Deno.writeTextFile(join(dir, "final.sql"), `${plain.join("\n")}\n`);
}

function lbRequest(dir: string): PrepareJobRequest {
  return {
    prepare_kind: "lb",
    liquibase_args: ["update", "--changelog-file", "changelog.sql"],
    work_dir: dir,
  };
}

const WORKLOAD = `liquibase-${LB_CHANGESETS}`;

/** By hand, sqlrs cold, sqlrs warm (lb and psql) on `installation`; states built untimed first. */
export async function liquibaseProbes(ctx: BenchContext, installation: Installation): Promise<Probe[]> {
  const tool = await findLiquibase(null);
  const client = await installation.client();
  const warmDir = join(ctx.workDir, WORKLOAD);
  await writeWorkload(warmDir, "warm");
  const warmLb = await apiPrepare(client, lbRequest(warmDir));
  await client.delete("instances", warmLb.instanceId);
  const warmPsql = await apiPrepare(client, psqlRequest(["-q", "-f", "final.sql"], warmDir));
  await client.delete("instances", warmPsql.instanceId);
  const common = { workload: WORKLOAD, backend: "auto (store on /tmp)", runtime: "host" };

  const hand: Probe = {
    name: "hand.lb.update",
    warmup: ctx.config.coldWarmup,
    runs: ctx.config.coldRuns,
    figures: [{
      ...common,
      id: "hand.lb.update",
      metric: "total",
      group: "liquibase",
      backend: "ext4",
      what: `by hand: initdb + start + one liquibase update (${LB_CHANGESETS} changesets) + stop`,
      command:
        "initdb; postgres -D …; liquibase --url=jdbc:postgresql://… update --changelog-file …; kill -INT",
      technique: "baseline",
      via: "by hand",
    }],
    async run(): Promise<Sample> {
      const dir = await ctx.serverDir("lb-");
      let server: Server | undefined;
      try {
        const t0 = performance.now();
        await initdb(ctx.tools, join(dir, "data"));
        server = await startDirect(ctx.tools, join(dir, "data"), dir);
        const result = await runLiquibase(tool, ["update", "--changelog-file=changelog.sql"], {
          cwd: warmDir,
          url: { host: "127.0.0.1", port: server.port, database: "postgres", user: "postgres", password: "" },
        });
        if (result.code !== 0) throw new Error(`liquibase update failed: ${result.stderr.slice(-500)}`);
        await stop(server);
        server = undefined;
        return { total: performance.now() - t0 };
      } finally {
        if (server !== undefined) await stop(server);
        await removeTree(dir);
      }
    },
  };

  const cold: Probe = {
    name: "cold.lb.api",
    warmup: ctx.config.coldWarmup,
    runs: ctx.config.coldRuns,
    figures: [{
      ...common,
      id: "cold.lb.api",
      metric: "total",
      group: "liquibase",
      what:
        `sqlrs cold prepare:lb (${LB_CHANGESETS} new changesets: plan + one state each) to a ready DSN, API`,
      command:
        "EngineClient.submitPrepare({prepare_kind: lb, liquibase_args: [update, --changelog-file, …]})",
      technique: "sqlrs",
      via: "api",
    }],
    async run(): Promise<Sample> {
      const dir = join(ctx.workDir, `${WORKLOAD}-cold-${ctx.next()}`);
      await writeWorkload(dir, `cold${ctx.next()}`);
      const p = await apiPrepare(client, lbRequest(dir));
      await client.delete("instances", p.instanceId);
      if (p.executedSteps === 0) throw new Error("A cold prepare:lb ran no step");
      return { total: p.totalMs };
    },
  };

  const warm = (id: string, request: PrepareJobRequest, what: string): Probe => ({
    name: id,
    warmup: ctx.config.warmup,
    runs: ctx.config.runs,
    figures: [{
      ...common,
      id,
      metric: "total",
      group: "liquibase",
      what,
      command: `EngineClient.submitPrepare(${JSON.stringify({ prepare_kind: request.prepare_kind })})`,
      technique: "sqlrs",
      via: "api",
    }],
    async run(): Promise<Sample> {
      const p = await apiPrepare(client, request);
      await client.delete("instances", p.instanceId);
      if (p.executedSteps !== 0) throw new Error(`A warm ${id} ran ${p.executedSteps} steps`);
      return { total: p.totalMs };
    },
  });

  return [
    hand,
    cold,
    warm("warm.lb.api", lbRequest(warmDir), `sqlrs warm prepare:lb (${LB_CHANGESETS} changesets cached)`),
    warm(
      "warm.lb-psql.api",
      psqlRequest(["-q", "-f", "final.sql"], warmDir),
      "sqlrs warm prepare:psql of the same final state (one file)",
    ),
  ];
}
