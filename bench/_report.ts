/**
 * Turning figures into what people read: ratios of figures taken in the same run, the goal
 * lines (pass/fail), a text table for the terminal, `bench/results/latest.json`, the Markdown report
 * and its SVG bar chart (drawn here, no libraries).
 *
 * @module
 */

import { poolComparisons } from "./_pool_goals.ts";
import type { FigureResult } from "./_harness.ts";
import type { MachineInfo, Versions } from "./_machine.ts";

/** A comparison of two figures from the same run. */
export interface Ratio {
  name: string;
  numerator: string;
  denominator: string;
  value: number | null;
}

/** One goal line (issues 9, 15 and 18). */
export interface Goal {
  name: string;
  target: string;
  measured: number | null;
  pass: boolean | null;
  /** `s` when the goal is a time in seconds, `MB` when it is memory, rather than a ratio. */
  unit?: "s" | "MB";
  /** The figures the measured ratio comes from, or why it is not measured yet. */
  basis: string;
}

/** Which backends were benchmarked and why others were not. */
export interface BackendStatus {
  kind: string;
  label: string;
  available: boolean;
  reason: string;
}

/** Everything one run produced. */
export interface BenchResults {
  schema: 1;
  generatedAt: string;
  mode: string;
  command: string;
  durationSeconds: number;
  machine: MachineInfo;
  versions: Versions;
  settings: Record<string, unknown>;
  backends: BackendStatus[];
  figures: FigureResult[];
  ratios: Ratio[];
  goals: Goal[];
  notes: string[];
}

function median(figures: ReadonlyMap<string, FigureResult>, id: string): number | null {
  return figures.get(id)?.median ?? null;
}

/** Ratios and goals from the figures; `best` is the best backend measured (btrfs where available). */
export function compare(
  list: readonly FigureResult[],
  options: { backends: readonly string[]; scales: readonly number[]; dockerSkipped?: string },
): { ratios: Ratio[]; goals: Goal[] } {
  const figures = new Map(list.map((f) => [f.id, f]));
  const ratios: Ratio[] = [];
  const add = (name: string, numerator: string, denominator: string) => {
    if (!figures.has(numerator) || !figures.has(denominator)) return;
    const a = median(figures, numerator);
    const b = median(figures, denominator);
    ratios.push({ name, numerator, denominator, value: a !== null && b !== null && b > 0 ? a / b : null });
  };
  // A fresh cluster + Chinook on the user's own filesystem (ext4) where measured, else on btrfs.
  const fresh = figures.has("hand.fresh.chinook")
    ? "hand.fresh.chinook/to-ready"
    : "hand.fresh.chinook@btrfs/to-ready";
  const small = `pgbench-s${options.scales[0]}`;
  const large = `pgbench-s${options.scales[options.scales.length - 1]}`;

  for (const b of options.backends) {
    add(`cold prepare: sqlrs API on ${b} / by hand on ext4`, `cold.api.chinook@${b}`, "hand.fresh.chinook");
    add(
      `cold prepare: sqlrs CLI on ${b} (engine start incl.) / by hand on ext4`,
      `cold.cli.chinook@${b}`,
      "hand.fresh.chinook",
    );
  }
  add("cold prepare on btrfs: sqlrs API / by hand", "cold.api.chinook@btrfs", "hand.fresh.chinook@btrfs");
  add(
    "cold prepare: sqlrs API on overlay (ext4's default) / by hand throwaway (-N, fsync=off)",
    "cold.api.chinook@overlay",
    "hand.fresh-nosync.chinook",
  );
  add("by hand: pg_ctl / direct start", "hand.pgctl.chinook", "hand.fresh.chinook");
  add("by hand: btrfs loop / ext4", "hand.fresh.chinook@btrfs", "hand.fresh.chinook");
  for (const b of options.backends) {
    add(`${b}: warm API / physical floor (Chinook)`, `warm.api.chinook@${b}`, `floor.chinook@${b}`);
    add(`${b}: warm CLI / physical floor (Chinook)`, `warm.cli.chinook@${b}`, `floor.chinook@${b}`);
    add(`${b}: warm CLI / warm API (Chinook)`, `warm.cli.chinook@${b}`, `warm.api.chinook@${b}`);
    add(
      `${b}: warm API / pg_ctl start -w of an existing dir`,
      `warm.api.chinook@${b}`,
      `start.pgctl.chinook@${b}`,
    );
    add(
      `${b}: warm API / direct start of an existing dir`,
      `warm.api.chinook@${b}`,
      `start.direct.chinook@${b}`,
    );
    add(`${b}: size, warm API ${large} / ${small}`, `warm.api.${large}@${b}`, `warm.api.${small}@${b}`);
    add(
      `${b}: size, sqlrs clone ${large} / ${small}`,
      `warm.api.${large}@${b}/clone`,
      `warm.api.${small}@${b}/clone`,
    );
    add(
      `${b}: size, clone by hand ${large} / ${small}`,
      `floor.${large}@${b}/clone`,
      `floor.${small}@${b}/clone`,
    );
    add(`${b}: size, API delete ${large} / ${small}`, `delete.api.${large}@${b}`, `delete.api.${small}@${b}`);
    add(`${b}: size, physical floor ${large} / ${small}`, `floor.${large}@${b}`, `floor.${small}@${b}`);
  }
  add("docker: warm API (--image) / bare docker run to ready", "docker.warm.api", "docker.bare.run");
  add("docker: warm CLI / warm API", "docker.warm.cli", "docker.warm.api");
  add(
    "docker: cold prepare (Chinook, initdb in a container) / by hand on the host",
    "docker.cold.api",
    "hand.fresh.chinook",
  );
  add(
    "docker: chain, fresh cluster on the host (3 steps) / sqlrs tail-only",
    "hand.chain.fresh",
    "chain.tail.api@docker",
  );
  const best = options.backends[0];
  if (best !== undefined) {
    add(
      `fresh cluster + Chinook to ready / sqlrs warm API (${best})`,
      fresh,
      `warm.api.chinook@${best}`,
    );
    add(
      `template clone WAL_LOG / sqlrs warm API (${best}, Chinook)`,
      "template.wal-log.chinook",
      `warm.api.chinook@${best}`,
    );
    add(
      `template clone FILE_COPY / sqlrs warm API (${best}, Chinook)`,
      "template.file-copy.chinook",
      `warm.api.chinook@${best}`,
    );
    for (const scale of options.scales) {
      const w = `pgbench-s${scale}`;
      add(
        `template clone WAL_LOG / sqlrs warm API (${best}, ${w})`,
        `template.wal-log.${w}`,
        `warm.api.${w}@${best}`,
      );
    }
  }
  for (const b of options.backends) {
    add(`${b}: chain, fresh cluster (3 steps) / sqlrs tail-only`, "hand.chain.fresh", `chain.tail.api@${b}`);
    add(`${b}: chain, sqlrs tail-only / same tail by hand`, `chain.tail.api@${b}`, `floor.chain-tail@${b}`);
    add(`${b}: 150-step series, sqlrs cold / by hand`, `series.cold.api@${b}`, `hand.series@${b}`);
  }

  const ratio = (n: string, d: string): number | null => {
    const a = median(figures, n);
    const b = median(figures, d);
    return a !== null && b !== null && b > 0 ? a / b : null;
  };
  const goal = (
    name: string,
    target: string,
    n: string,
    d: string,
    ok: (v: number) => boolean,
    missing: string,
  ): Goal => {
    const measured = figures.has(n) && figures.has(d) ? ratio(n, d) : null;
    return {
      name,
      target,
      measured: measured === null ? null : Math.round(measured * 100) / 100,
      pass: measured === null ? null : ok(measured),
      basis: measured === null ? missing : `${n} / ${d}`,
    };
  };
  const btrfs = options.backends.includes("btrfs");
  // sqlrs on its best backend against the fastest by-hand run of the same steps (ext4 or btrfs).
  const coldBackend = options.backends.find((b) => figures.has(`cold.api.chinook@${b}`)) ?? "btrfs";
  const coldSqlrs = `cold.api.chinook@${coldBackend}`;
  const coldHand = ["hand.fresh.chinook", "hand.fresh.chinook@btrfs"]
    .filter((id) => median(figures, id) !== null)
    .sort((a, b) => (median(figures, a) as number) - (median(figures, b) as number))[0] ??
    "hand.fresh.chinook";
  const noBtrfs = "btrfs is not available on this machine";
  const largeScale = options.scales[options.scales.length - 1];
  const goals: Goal[] = [
    goal(
      "warm instance (host, btrfs) <= 2x the physical floor (btrfs snapshot + direct start)",
      "<= 2",
      "warm.api.chinook@btrfs",
      "floor.chinook@btrfs",
      (v) => v <= 2,
      noBtrfs,
    ),
    goal(
      `warm instance size ratio (scale ${largeScale} / scale ${options.scales[0]}, host, btrfs) <= 1.3`,
      "<= 1.3",
      `warm.api.${large}@btrfs`,
      `warm.api.${small}@btrfs`,
      (v) => v <= 1.3,
      btrfs ? "the size ladder was not measured" : noBtrfs,
    ),
    goal(
      ">= 5x faster than a default-strategy template clone at scale 100",
      ">= 5",
      "template.wal-log.pgbench-s100",
      "warm.api.pgbench-s100@btrfs",
      (v) => v >= 5,
      "needs scale 100 (full run only)",
    ),
    goal(
      ">= 10x faster than a fresh cluster + Chinook (initdb + start + psql -f, to ready; sqlrs warm, btrfs)",
      ">= 10",
      fresh,
      "warm.api.chinook@btrfs",
      (v) => v >= 10,
      noBtrfs,
    ),
    goal(
      `cold prepare (host, ${coldBackend}) <= 1.3x the same steps by hand ` +
        "(initdb + start + psql -f + stop; the fastest by-hand run measured)",
      "<= 1.3",
      coldSqlrs,
      coldHand,
      (v) => v <= 1.3,
      "cold figures missing",
    ),
    goal(
      "Liquibase, 40 changesets: cold prepare:lb <= 2x one liquibase update (fresh cluster, by hand)",
      "<= 2",
      "cold.lb.api",
      "hand.lb.update",
      (v) => v <= 2,
      "Liquibase figures missing",
    ),
    goal(
      "warm prepare:lb <= 1.5x a warm prepare:psql of the same final state",
      "<= 1.5",
      "warm.lb.api",
      "warm.lb-psql.api",
      (v) => v <= 1.5,
      "Liquibase figures missing",
    ),
    goal(
      "docker warm instance <= 1.3x a bare docker run to ready",
      "<= 1.3",
      "docker.warm.api",
      "docker.bare.run",
      (v) => v <= 1.3,
      `docker suite skipped: ${options.dockerSkipped ?? "no docker figures"}`,
    ),
  ];
  goals.push(...seriesGoals(figures, options.backends));
  const pool = poolComparisons(figures);
  ratios.push(...pool.ratios);
  goals.push(...pool.goals);
  return { ratios, goals };
}

/** Issue 15: a long migration history cold near by-hand speed, and a one-migration change in one step. */
function seriesGoals(figures: ReadonlyMap<string, FigureResult>, backends: readonly string[]): Goal[] {
  const goals: Goal[] = [];
  for (const [backend, limit] of [["btrfs", 1.5], ["overlay", 2], ["copy", 2]] as const) {
    const n = `series.cold.api@${backend}`;
    const d = `hand.series@${backend}`;
    const a = median(figures, n);
    const b = median(figures, d);
    const measured = a !== null && b !== null && b > 0 ? Math.round((a / b) * 100) / 100 : null;
    goals.push({
      name: `150-step series, cold prepare on ${backend} <= ${limit}x by hand (initdb + one psql + stop)`,
      target: `<= ${limit}`,
      measured,
      pass: measured === null ? null : measured <= limit,
      basis: measured === null ? `${backend} series not measured` : `${n} / ${d}`,
    });
  }
  for (const backend of backends) {
    for (const [change, id] of [["editing the last", "edit-last"], ["adding a", "add-new"]] as const) {
      const figure = `series.${id}.api@${backend}`;
      const ms = median(figures, figure);
      if (ms === null) continue;
      goals.push({
        name: `150-step series on ${backend}: ${change} migration <= 1.5 s, one step (checked every run)`,
        target: "<= 1.5 s",
        measured: Math.round(ms) / 1000,
        unit: "s",
        pass: ms <= 1500,
        basis: figure,
      });
    }
  }
  return goals;
}

// ---------------------------------------------------------------------------------------------
// Text

function ms(value: number | null): string {
  if (value === null) return "-";
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  if (value >= 100) return `${value.toFixed(0)}`;
  return value.toFixed(1);
}

/** A figure's value as printed: milliseconds, or megabytes for a memory figure. */
function value(figure: Pick<FigureResult, "unit">, v: number | null): string {
  if (v === null || figure.unit === undefined) return ms(v);
  return `${v.toFixed(1)} ${figure.unit}`;
}

/** A goal's measured value as printed. */
function measured(goal: Goal): string {
  if (goal.measured === null) return "-";
  return goal.unit === undefined ? `${goal.measured}x` : `${goal.measured} ${goal.unit}`;
}

function textTable(header: string[], rows: string[][], right: Set<number> = new Set()): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The terminal report: figures, phases, ratios, goals, and the commands behind each figure. */
export function renderText(results: BenchResults): string {
  const main = results.figures.filter((f) => f.phaseOf === undefined);
  const out: string[] = [];
  out.push(
    `sqlrs bench (${results.mode}) ${results.generatedAt}: ${results.machine.cpu}, ${results.machine.cores} cores, ` +
      `${results.machine.memoryGiB} GiB, kernel ${results.machine.kernel}; ${results.versions.postgres}; deno ${results.versions.deno}`,
  );
  out.push(
    `all times in ms (median of n runs after warm-up, interleaved), memory in MB where it says so; runtime host ` +
      `unless the docker suite says docker\n`,
  );
  out.push(textTable(
    ["figure", "backend", "median", "min", "max", "n"],
    main.map((f) => [
      f.id + (f.error ? " (FAILED)" : ""),
      f.backend,
      value(f, f.median),
      value(f, f.min),
      value(f, f.max),
      String(f.runs),
    ]),
    new Set([2, 3, 4, 5]),
  ));
  const byParent = new Map<string, FigureResult[]>();
  for (const f of results.figures) {
    if (f.phaseOf !== undefined) byParent.set(f.phaseOf, [...(byParent.get(f.phaseOf) ?? []), f]);
  }
  if (byParent.size > 0) {
    out.push("\nbreakdown (medians of each phase; see docs/benchmarks.md for what each phase is)");
    out.push(textTable(
      ["figure", "total", "phases"],
      [...byParent].map(([parent, list]) => [
        parent,
        ms(results.figures.find((f) => f.id === parent)?.median ?? null),
        list.map((f) => `${f.metric} ${value(f, f.median)}`).join(" | "),
      ]),
      new Set([1]),
    ));
  }
  out.push("\nratios (medians of the same run)");
  out.push(textTable(
    ["comparison", "ratio"],
    results.ratios.map((r) => [r.name, r.value === null ? "-" : `${r.value.toFixed(2)}x`]),
    new Set([1]),
  ));
  out.push("\ngoals (issues 9, 15 and 18)");
  out.push(textTable(
    ["goal", "target", "measured", "result"],
    results.goals.map((g) => [
      g.name,
      g.target,
      measured(g),
      g.pass === null ? "n/a" : g.pass ? "PASS" : "FAIL",
    ]),
  ));
  out.push("\ncommands (@backend variants share one line)");
  const seen = new Map<string, { names: Set<string>; at: Set<string> }>();
  for (const f of main) {
    const key = `${f.what}\n      ${f.command}`;
    const entry = seen.get(key) ?? { names: new Set(), at: new Set() };
    const [name, backend] = f.id.split("@") as [string, string | undefined];
    entry.names.add(name);
    if (backend !== undefined) entry.at.add(backend);
    seen.set(key, entry);
  }
  for (const [key, { names, at }] of seen) {
    out.push(`  ${[...names].join(", ")}${at.size > 0 ? ` @ ${[...at].join(", ")}` : ""}: ${key}`);
  }
  const failed = main.filter((f) => f.error !== undefined);
  for (const f of failed) out.push(`\nFAILED ${f.id}: ${f.error}`);
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------
// SVG

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A horizontal bar chart of every main figure's median on a log scale, sqlrs and baselines in two colours. */
export function renderSvg(results: BenchResults): string {
  // Times only: a memory figure has no place on a millisecond axis.
  const rows = results.figures.filter((f) =>
    f.phaseOf === undefined && f.median !== null && f.unit === undefined
  );
  const labelWidth = 330;
  const chartWidth = 520;
  const valueWidth = 90;
  const rowHeight = 18;
  const top = 46;
  const width = labelWidth + chartWidth + valueWidth;
  const height = top + rows.length * rowHeight + 40;
  const maxValue = Math.max(10, ...rows.map((r) => r.max ?? r.median ?? 0));
  const lo = 0; // 1 ms
  const hi = Math.ceil(Math.log10(maxValue));
  const x = (v: number) =>
    labelWidth + (Math.max(Math.log10(Math.max(v, 1)) - lo, 0) / (hi - lo)) * chartWidth;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  parts.push(
    `<text x="8" y="16" font-size="13" font-weight="bold">${
      escapeXml(`sqlrs bench (${results.mode}), ${results.generatedAt.slice(0, 10)}: median ms, log scale`)
    }</text>`,
  );
  parts.push(
    `<rect x="8" y="26" width="10" height="10" fill="#2563eb"/><text x="22" y="35">sqlrs</text>` +
      `<rect x="70" y="26" width="10" height="10" fill="#9ca3af"/><text x="84" y="35">baseline (by hand)</text>` +
      `<text x="210" y="35" fill="#555">whisker: min-max</text>`,
  );
  for (let p = lo; p <= hi; p++) {
    const gx = x(10 ** p);
    parts.push(
      `<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${top + rows.length * rowHeight}" stroke="#e5e7eb"/>`,
    );
    const label = 10 ** p >= 1000 ? `${10 ** p / 1000} s` : `${10 ** p} ms`;
    parts.push(
      `<text x="${gx}" y="${
        top + rows.length * rowHeight + 14
      }" text-anchor="middle" fill="#555">${label}</text>`,
    );
  }
  rows.forEach((f, i) => {
    const y = top + i * rowHeight;
    const colour = f.technique === "sqlrs" ? "#2563eb" : "#9ca3af";
    const median = f.median as number;
    parts.push(
      `<text x="${labelWidth - 6}" y="${y + 12}" text-anchor="end">${escapeXml(f.id)}</text>`,
      `<rect x="${labelWidth}" y="${y + 3}" width="${
        Math.max(1, x(median) - labelWidth).toFixed(1)
      }" height="${rowHeight - 6}" fill="${colour}"><title>${
        escapeXml(`${f.what} (${f.backend}): ${ms(median)} ms`)
      }</title></rect>`,
      `<line x1="${x(f.min ?? median).toFixed(1)}" y1="${y + 9}" x2="${x(f.max ?? median).toFixed(1)}" y2="${
        y + 9
      }" stroke="#111" stroke-width="1"/>`,
      `<text x="${labelWidth + chartWidth + 6}" y="${y + 12}">${escapeXml(ms(median))}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------
// Markdown

function mdEscape(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/** The Markdown report (`docs/benchmarks.md`); `chartPath` is the SVG's path relative to it. */
export function renderMarkdown(results: BenchResults, chartPath: string): string {
  const m = results.machine;
  const v = results.versions;
  const main = results.figures.filter((f) => f.phaseOf === undefined);
  const lines: string[] = [];
  lines.push("# sqlrs benchmarks", "");
  lines.push(
    `Generated by \`${results.command}\` on ${results.generatedAt} (${results.mode} run, ` +
      `${Math.round(results.durationSeconds)} s). Do not edit by hand: run the benchmark again.`,
    "",
  );
  lines.push(
    "Every figure is the median of n runs after a warm-up; every probe runs round-robin with the others " +
      "(interleaved, the order rotated every other round and reversed on odd rounds, so that of two probes each goes first as often), and every ratio divides two medians of the same run. " +
      "Times are wall-clock milliseconds of whole operations. Runtime: host (PostgreSQL processes on this machine) unless the Runtime column says docker.",
    "",
  );
  lines.push("## Machine and versions", "");
  lines.push("| | |", "|---|---|");
  lines.push(`| CPU | ${mdEscape(m.cpu)}, ${m.cores} cores |`);
  lines.push(`| Memory | ${m.memoryGiB} GiB |`);
  lines.push(`| OS / kernel | ${mdEscape(m.os)} / ${m.kernel} |`);
  lines.push(`| Work filesystem | ${mdEscape(m.workFilesystem)} |`);
  lines.push(
    `| Load average (start / end) | ${m.loadAverageStart.join(" ")} / ${
      (m.loadAverageEnd ?? []).join(" ")
    } |`,
  );
  lines.push(`| sqlrs | ${v.sqlrs} |`);
  lines.push(`| Deno | ${v.deno} (V8 ${v.v8}, TypeScript ${v.typescript}) |`);
  lines.push(`| PostgreSQL | ${mdEscape(v.postgres)} |`);
  lines.push(
    `| btrfs-progs / xfsprogs / coreutils | ${v.btrfsProgs ?? "-"} / ${v.xfsprogs ?? "-"} / ${
      v.coreutils ?? "-"
    } |`,
  );
  lines.push("");
  lines.push("Snapshot backends:", "");
  for (const b of results.backends) {
    lines.push(`- \`${b.kind}\`: ${b.label}: ${b.available ? "measured" : `not measured (${b.reason})`}`);
  }
  lines.push("");
  lines.push("## Goals (issues 9, 15 and 18)", "");
  lines.push("| Goal | Target | Measured | Result | From |", "|---|---|---|---|---|");
  for (const g of results.goals) {
    lines.push(
      `| ${mdEscape(g.name)} | ${mdEscape(g.target)} | ${measured(g)} | ${
        g.pass === null ? "n/a" : g.pass ? "**pass**" : "**FAIL**"
      } | ${mdEscape(g.basis)} |`,
    );
  }
  lines.push("");
  lines.push("## Chart", "", `![median times, log scale](${chartPath})`, "");
  lines.push("## Figures", "");
  lines.push(
    "| Figure | What | Backend | Runtime | Via | Median ms | Min | Max | n |",
    "|---|---|---|---|---|--:|--:|--:|--:|",
  );
  for (const f of main) {
    lines.push(
      `| \`${f.id}\`${f.error ? " (failed)" : ""} | ${mdEscape(f.what)} | ${
        mdEscape(f.backend)
      } | ${f.runtime} | ${f.via} | ${value(f, f.median)} | ${value(f, f.min)} | ${
        value(f, f.max)
      } | ${f.runs} |`,
    );
  }
  lines.push("");
  lines.push("## Ratios", "");
  lines.push("| Comparison | Ratio | Numerator / denominator |", "|---|--:|---|");
  for (const r of results.ratios) {
    lines.push(
      `| ${mdEscape(r.name)} | ${
        r.value === null ? "-" : `${r.value.toFixed(2)}x`
      } | \`${r.numerator}\` / \`${r.denominator}\` |`,
    );
  }
  lines.push("");
  lines.push("## Breakdown", "");
  lines.push(
    "Phases of the figures above. Engine phases come from the engine's own log line per instance " +
      "(`clone X ms, start to ready Y ms`) and from job event timestamps (ms resolution); `other` is the " +
      "rest of the client-side total (job scheduling, events, registry, HTTP).",
    "",
  );
  lines.push("| Phase | What | Median ms | Min | Max |", "|---|---|--:|--:|--:|");
  for (const f of results.figures.filter((x) => x.phaseOf !== undefined)) {
    lines.push(
      `| \`${f.id}\` | ${mdEscape(f.what)} | ${value(f, f.median)} | ${value(f, f.min)} | ${
        value(f, f.max)
      } |`,
    );
  }
  lines.push("");
  lines.push("## Commands", "");
  for (const f of main) lines.push(`- \`${f.id}\`: ${mdEscape(f.what)}. \`${f.command}\``);
  lines.push("");
  if (results.notes.length > 0) {
    lines.push("## Notes", "");
    for (const note of results.notes) lines.push(`- ${note}`);
    lines.push("");
  }
  return lines.join("\n");
}
