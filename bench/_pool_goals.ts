/**
 * The ratios and goals of the pool group (issue 18); a denominator may be a sum of figures
 * (`pooled hand-out + restart`).
 *
 * @module
 */

import type { FigureResult } from "./_harness.ts";
import type { Goal, Ratio } from "./_report.ts";

/** [name, target, limit, numerator, denominator figures (summed)] */
const POOL_GOALS: Array<[string, number, string, string[]]> = [
  ["pooled hand-out via mod.ts <= 0.15x an unpooled one", 0.15, "pool.handout.pooled", [
    "pool.handout.unpooled",
  ]],
  [
    "pooled hand-out via mod.ts <= 0.5x a bare psql DSN -c 'select 1' to a running instance",
    0.5,
    "pool.handout.pooled",
    ["pool.psql.select1"],
  ],
  ["CLI cache hit with a warm pool <= 1.5x sqlrs --version", 1.5, "pool.cli.pooled", ["cli.start"]],
  [
    "10 concurrent hand-outs from a pool of 10 <= 3x one",
    3,
    "pool.concurrent.10",
    ["pool.handout.pooled"],
  ],
  [
    "reset (pool warm) <= 1.2x a pooled hand-out + a server restart",
    1.2,
    "pool.reset.pooled",
    ["pool.handout.pooled", "pool.restart.hand"],
  ],
];

function sum(figures: ReadonlyMap<string, FigureResult>, ids: readonly string[]): number | null {
  let total = 0;
  for (const id of ids) {
    const value = figures.get(id)?.median ?? null;
    if (value === null) return null;
    total += value;
  }
  return total;
}

/** The pool group's ratios and goals, for the figures it measured (none when it did not run). */
export function poolComparisons(
  figures: ReadonlyMap<string, FigureResult>,
): { ratios: Ratio[]; goals: Goal[] } {
  const ratios: Ratio[] = [];
  const goals: Goal[] = [];
  if (!figures.has("pool.handout.pooled")) return { ratios, goals };
  for (const [name, limit, numerator, denominators] of POOL_GOALS) {
    const a = figures.get(numerator)?.median ?? null;
    const b = sum(figures, denominators);
    const value = a !== null && b !== null && b > 0 ? a / b : null;
    const denominator = denominators.join(" + ");
    ratios.push({ name, numerator, denominator, value });
    goals.push({
      name,
      target: `<= ${limit}`,
      measured: value === null ? null : Math.round(value * 100) / 100,
      pass: value === null ? null : value <= limit,
      basis: value === null ? "pool figures missing" : `${numerator} / ${denominator}`,
    });
  }
  for (const strategy of ["wal-log", "file-copy"]) {
    const numerator = `template.${strategy}.small`;
    const a = figures.get(numerator)?.median ?? null;
    const b = figures.get("pool.handout.pooled")?.median ?? null;
    ratios.push({
      name: `template clone ${strategy.toUpperCase().replace("-", "_")} / pooled hand-out (same table)`,
      numerator,
      denominator: "pool.handout.pooled",
      value: a !== null && b !== null && b > 0 ? a / b : null,
    });
  }
  return { ratios, goals };
}
