import assert from "node:assert/strict";
import { type FigureResult, type FigureSpec, runInterleaved, summarise } from "./_harness.ts";
import { type BenchResults, compare, renderMarkdown, renderSvg, renderText } from "./_report.ts";

function spec(id: string, metric = "total"): FigureSpec {
  return {
    id,
    metric,
    what: id,
    command: id,
    technique: "sqlrs",
    group: "g",
    workload: "w",
    backend: "b",
    runtime: "host",
    via: "api",
  };
}

function result(id: string, median: number): FigureResult {
  return { ...spec(id), median, min: median, max: median, runs: 1, samples: [median] };
}

Deno.test("summarise() gives the median, min and max, averaging the middle pair", () => {
  assert.deepEqual(summarise([3, 1, 2]), { median: 2, min: 1, max: 3 });
  assert.deepEqual(summarise([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4 });
  assert.deepEqual(summarise([]), { median: null, min: null, max: null });
});

function recordingProbe(calls: string[], name: string, warmup: number, runs: number) {
  return {
    name,
    warmup,
    runs,
    figures: [spec(name)],
    run: () => {
      calls.push(name);
      return Promise.resolve({ total: calls.length });
    },
  };
}

Deno.test("runInterleaved() rotates and reverses the order so that each probe of a pair goes first as often", async () => {
  const calls: string[] = [];
  const names = ["a", "b", "c"];
  await runInterleaved(names.map((name) => recordingProbe(calls, name, 0, 4)), {
    signal: new AbortController().signal,
    log: () => {},
  });
  assert.deepEqual(calls, ["a", "b", "c", "c", "b", "a", "b", "c", "a", "a", "c", "b"]);
  const rounds = [0, 1, 2, 3].map((r) => calls.slice(r * 3, r * 3 + 3));
  for (const [x, y] of [["a", "b"], ["a", "c"], ["b", "c"]] as const) {
    const xFirst = rounds.filter((round) => round.indexOf(x) < round.indexOf(y)).length;
    assert.equal(xFirst, 2, `${x} before ${y} in ${xFirst} of 4 rounds`);
  }
});

Deno.test("runInterleaved() drops warm-ups and stops a probe after its runs", async () => {
  const calls: string[] = [];
  const results = await runInterleaved([recordingProbe(calls, "a", 1, 2), recordingProbe(calls, "b", 0, 2)], {
    signal: new AbortController().signal,
    log: () => {},
  });
  assert.deepEqual(calls, ["a", "b", "b", "a", "a"]);
  assert.deepEqual(results.find((r) => r.id === "a")?.samples, [4, 5]);
  assert.deepEqual(results.find((r) => r.id === "b")?.samples, [2, 3]);
});

Deno.test("runInterleaved() reports a failing probe and goes on with the others", async () => {
  const results = await runInterleaved([
    { name: "bad", warmup: 0, runs: 3, figures: [spec("bad")], run: () => Promise.reject(new Error("boom")) },
    { name: "good", warmup: 0, runs: 3, figures: [spec("good")], run: () => Promise.resolve({ total: 1 }) },
  ], { signal: new AbortController().signal, log: () => {} });
  assert.deepEqual(results.find((r) => r.id === "bad")?.error, "boom");
  assert.deepEqual(results.find((r) => r.id === "good")?.runs, 3);
});

Deno.test("compare() turns medians of the same run into ratios and goal lines", () => {
  const figures = [
    result("warm.api.chinook@btrfs", 60),
    result("floor.chinook@btrfs", 40),
    result("warm.api.pgbench-s1@btrfs", 50),
    result("warm.api.pgbench-s20@btrfs", 55),
    result("hand.fresh.chinook", 3000),
    result("hand.fresh.chinook/to-ready", 2900),
    result("cold.api.chinook@btrfs", 4500),
    result("hand.fresh.chinook@btrfs", 3000),
    result("cold.lb.api", 9000),
    result("hand.lb.update", 4000),
    result("warm.lb.api", 300),
    result("warm.lb-psql.api", 250),
  ];
  const { ratios, goals } = compare(figures, { backends: ["btrfs"], scales: [1, 20] });
  assert.deepEqual(ratios.find((r) => r.numerator === "warm.api.chinook@btrfs")?.value, 1.5);
  // The series goals (cold, edit-last, add-new on btrfs) have no figures here: n/a.
  assert.deepEqual(goals.map((g) => g.pass), [
    true,
    true,
    null,
    true,
    false,
    false,
    true,
    null,
    null,
    null,
    null,
  ]);
  assert.deepEqual(goals[4]?.measured, 1.5);
  assert.deepEqual(goals.slice(5, 7).map((g) => g.measured), [2.25, 1.2]);
});

Deno.test("the renderers show every figure and goal, memory in MB and off the millisecond chart", () => {
  const figures = [
    result("warm.api.chinook@btrfs", 60),
    result("floor.chinook@btrfs", 40),
    { ...result("pool.engine.rss.idle", 100), unit: "MB" as const },
  ];
  const { ratios, goals } = compare(figures, { backends: ["btrfs"], scales: [1, 20] });
  const results: BenchResults = {
    schema: 1,
    generatedAt: "2026-01-01T00:00:00.000Z",
    mode: "smoke",
    command: "deno task bench --smoke",
    durationSeconds: 1,
    machine: {
      cpu: "cpu",
      cores: 2,
      memoryGiB: 1,
      kernel: "k",
      os: "os",
      workFilesystem: "ext4",
      loadAverageStart: [0, 0, 0],
    },
    versions: {
      sqlrs: "0",
      deno: "2",
      v8: "v8",
      typescript: "ts",
      postgres: "pg",
      btrfsProgs: null,
      xfsprogs: null,
      coreutils: null,
    },
    settings: {},
    backends: [],
    figures,
    ratios,
    goals,
    notes: [],
  };
  const svg = renderSvg(results);
  assert.ok(svg.startsWith("<svg"));
  assert.deepEqual(svg.match(/<rect x="330"/g)?.length, 2);
  assert.ok(renderMarkdown(results, "chart.svg").includes("| `floor.chinook@btrfs` |"));
  assert.ok(renderText(results).includes("warm instance (host, btrfs)"));
  assert.match(renderText(results), /pool\.engine\.rss\.idle +b +100\.0 MB/);
  assert.ok(renderMarkdown(results, "chart.svg").includes("| 100.0 MB |"));
});

Deno.test("compare() holds the pool figures to issue 18's goals: both directions, a constant baseline, memory", () => {
  const figures = [
    result("pool.handout.pooled", 5),
    result("pool.handout.unpooled", 100),
    result("pool.psql.select1", 20),
    result("pool.first_query.pooled", 31),
    result("pool.concurrent.10.unpooled", 400),
    result("pool.handout.pooled.pgbench-s20", 10),
    result("pool.handout.unpooled.pgbench-s20", 100),
    result("template.file-copy.pool-pgbench-s20", 1000),
    { ...result("pool.engine.rss.idle", 100), unit: "MB" as const },
    { ...result("pool.engine.rss.after-2m-rows", 130), unit: "MB" as const },
  ];
  const { goals } = compare(figures, { backends: [], scales: [1, 20] });
  const goal = (start: string) => goals.find((g) => g.name.startsWith(start));
  assert.deepEqual(goal("pooled hand-out via mod.ts <= 0.15x")?.pass, true);
  assert.deepEqual(goal("pooled hand-out to its first query")?.measured, 1.55);
  assert.deepEqual(goal("pooled hand-out to its first query")?.pass, false);
  // 10 in 400 ms = 25 instances/s = 1.35x the 18.5/s.
  assert.deepEqual(goal("10 concurrent unpooled hand-outs (25.0 instances/s)")?.measured, 1.35);
  assert.deepEqual(goal("10 concurrent unpooled hand-outs")?.pass, false);
  const fileCopy = goals.filter((g) => g.name.startsWith("template FILE_COPY clone of pgbench -i -s 20"));
  assert.deepEqual(fileCopy.map((g) => [g.target, g.measured, g.pass]), [[">= 50", 100, true], [
    ">= 15",
    10,
    false,
  ]]);
  assert.ok(fileCopy.every((g) => g.name.endsWith("(this run: scale 20; the target is at 100)")));
  assert.deepEqual(goal("engine RSS idle")?.pass, true);
  assert.deepEqual(goal("engine RSS idle")?.unit, "MB");
  assert.deepEqual(goal("engine RSS after a 2M-row run:psql")?.measured, 1.3);
  assert.deepEqual(goal("engine RSS after a 2M-row run:psql")?.pass, false);
  assert.deepEqual(goal("CLI cache hit")?.pass, null);
});
