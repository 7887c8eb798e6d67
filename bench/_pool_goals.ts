/**
 * The ratios and goals of the pool group (issue 18); a denominator may be a sum of figures
 * (`pooled hand-out + restart`).
 *
 * @module
 */

import type { FigureResult } from "./_harness.ts";
import type { Goal, Ratio } from "./_report.ts";

/** A goal on the ratio of a figure's median to the sum of other medians. */
interface RatioGoal {
  name: string;
  /** `<=`: at most `limit` times the denominator; `>=`: at least. */
  at: "<=" | ">=";
  limit: number;
  numerator: string;
  denominators: string[];
}

/** Issue 18's 10-concurrent figure, measured before the pool existed (542 ms for 10 hand-outs). */
const ISSUE_THROUGHPUT = 18.5;
/** Issue 18's engine memory goal: idle at most this many MB. */
const IDLE_RSS_MB = 120;

const POOL_GOALS: RatioGoal[] = [
  {
    name: "pooled hand-out via mod.ts <= 0.15x an unpooled one",
    at: "<=",
    limit: 0.15,
    numerator: "pool.handout.pooled",
    denominators: ["pool.handout.unpooled"],
  },
  {
    name: "pooled hand-out via mod.ts <= 0.5x a bare psql DSN -c 'select 1' to a running instance",
    at: "<=",
    limit: 0.5,
    numerator: "pool.handout.pooled",
    denominators: ["pool.psql.select1"],
  },
  {
    name: "pooled hand-out to its first query (bare psql select 1) <= 1.5x a bare psql select 1",
    at: "<=",
    limit: 1.5,
    numerator: "pool.first_query.pooled",
    denominators: ["pool.psql.select1"],
  },
  {
    name: "CLI cache hit with a warm pool <= 1.5x sqlrs --version",
    at: "<=",
    limit: 1.5,
    numerator: "pool.cli.pooled",
    denominators: ["cli.start"],
  },
  {
    name: "10 concurrent hand-outs from a pool of 10 <= 3x one",
    at: "<=",
    limit: 3,
    numerator: "pool.concurrent.10",
    denominators: ["pool.handout.pooled"],
  },
  {
    name: "reset (pool warm) <= 1.2x a pooled hand-out + a server restart",
    at: "<=",
    limit: 1.2,
    numerator: "pool.reset.pooled",
    denominators: ["pool.handout.pooled", "pool.restart.hand"],
  },
  {
    name: "engine RSS after a 2M-row run:psql <= 1.2x idle",
    at: "<=",
    limit: 1.2,
    numerator: "pool.engine.rss.after-2m-rows",
    denominators: ["pool.engine.rss.idle"],
  },
];

/** The template goals at the pgbench scale the run measured (`pgbench-s100` in a full run). */
function templateGoals(workload: string): RatioGoal[] {
  const scale = workload.replace("pgbench-s", "");
  const note = scale === "100" ? "" : ` (this run: scale ${scale}; the target is at 100)`;
  return [
    {
      name: `template FILE_COPY clone of pgbench -i -s ${scale} >= 50x a pooled hand-out of it${note}`,
      at: ">=",
      limit: 50,
      numerator: `template.file-copy.pool-${workload}`,
      denominators: [`pool.handout.pooled.${workload}`],
    },
    {
      name: `template FILE_COPY clone of pgbench -i -s ${scale} >= 15x an unpooled hand-out of it${note}`,
      at: ">=",
      limit: 15,
      numerator: `template.file-copy.pool-${workload}`,
      denominators: [`pool.handout.unpooled.${workload}`],
    },
  ];
}

function sum(figures: ReadonlyMap<string, FigureResult>, ids: readonly string[]): number | null {
  let total = 0;
  for (const id of ids) {
    const value = figures.get(id)?.median ?? null;
    if (value === null) return null;
    total += value;
  }
  return total;
}

const round = (value: number) => Math.round(value * 100) / 100;

/** The pool group's ratios and goals, for the figures it measured (none when it did not run). */
export function poolComparisons(
  figures: ReadonlyMap<string, FigureResult>,
): { ratios: Ratio[]; goals: Goal[] } {
  const ratios: Ratio[] = [];
  const goals: Goal[] = [];
  if (!figures.has("pool.handout.pooled")) return { ratios, goals };
  const median = (id: string) => figures.get(id)?.median ?? null;
  // The pgbench workload of the template goals, from the figure the pool group named after it.
  const workload = [...figures.keys()]
    .map((id) => /^pool\.handout\.pooled\.(pgbench-s\d+)$/.exec(id)?.[1])
    .find((name) => name !== undefined) ?? "pgbench-s100";
  for (const { name, at, limit, numerator, denominators } of [...POOL_GOALS, ...templateGoals(workload)]) {
    const a = median(numerator);
    const b = sum(figures, denominators);
    const value = a !== null && b !== null && b > 0 ? a / b : null;
    const denominator = denominators.join(" + ");
    ratios.push({ name, numerator, denominator, value });
    goals.push({
      name,
      target: `${at} ${limit}`,
      measured: value === null ? null : round(value),
      pass: value === null ? null : at === "<=" ? value <= limit : value >= limit,
      basis: value === null ? "pool figures missing" : `${numerator} / ${denominator}`,
    });
  }

  const idle = median("pool.engine.rss.idle");
  goals.push({
    name: `engine RSS idle <= ${IDLE_RSS_MB} MB`,
    target: `<= ${IDLE_RSS_MB} MB`,
    measured: idle === null ? null : round(idle),
    unit: "MB",
    pass: idle === null ? null : idle <= IDLE_RSS_MB,
    basis: idle === null ? "pool figures missing" : "pool.engine.rss.idle",
  });

  // Throughput with the pool empty: instances per second of 10 concurrent unpooled hand-outs, against
  // the figure the issue quotes from before the pool (a constant: that engine no longer exists).
  const ten = median("pool.concurrent.10.unpooled");
  const perSecond = ten === null || ten <= 0 ? null : 10_000 / ten;
  const throughput = perSecond === null ? null : perSecond / ISSUE_THROUGHPUT;
  const name =
    `10 concurrent unpooled hand-outs (${
      perSecond === null ? "-" : perSecond.toFixed(1)
    } instances/s) >= 1.5x ` +
    `issue 18's ${ISSUE_THROUGHPUT} instances/s (before the pool)`;
  ratios.push({
    name,
    numerator: "pool.concurrent.10.unpooled",
    denominator: `${ISSUE_THROUGHPUT} instances/s`,
    value: throughput,
  });
  goals.push({
    name,
    target: ">= 1.5",
    measured: throughput === null ? null : round(throughput),
    pass: throughput === null ? null : throughput >= 1.5,
    basis: perSecond === null
      ? "pool figures missing"
      : `10 / pool.concurrent.10.unpooled = ${perSecond.toFixed(1)} instances/s, / ${ISSUE_THROUGHPUT}`,
  });
  const ratio = (label: string, numerator: string, denominator: string) => {
    const a = median(numerator);
    const b = median(denominator);
    ratios.push({
      name: label,
      numerator,
      denominator,
      value: a !== null && b !== null && b > 0 ? a / b : null,
    });
  };
  ratio(
    "10 concurrent unpooled hand-outs / one unpooled hand-out",
    "pool.concurrent.10.unpooled",
    "pool.handout.unpooled",
  );
  ratio(
    "template clone WAL_LOG (small table) / pooled hand-out",
    "template.wal-log.small",
    "pool.handout.pooled",
  );
  ratio(
    "template clone FILE_COPY (small table) / pooled hand-out",
    "template.file-copy.small",
    "pool.handout.pooled",
  );
  for (const kind of ["pooled", "unpooled"]) {
    ratio(
      `template clone WAL_LOG (${workload}) / ${kind} hand-out of it`,
      `template.wal-log.pool-${workload}`,
      `pool.handout.${kind}.${workload}`,
    );
  }
  return { ratios, goals };
}
