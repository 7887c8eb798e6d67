/**
 * The benchmark end to end, so that `deno task bench` keeps working between the runs someone makes by
 * hand: a `--smoke` run (every probe once, the same code paths as a full run, scales 1 and 2) on every
 * snapshot backend and docker, its JSON, report and printed goal lines, and nothing left behind. No
 * time is asserted: only that every figure was measured and every goal line is there.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { BenchResults } from "../bench/_report.ts";
import { REPO, runProgram } from "./_sandbox.ts";
import { hasNeeded, need, testNeeding } from "./_needs.ts";

/** The temporary roots benchmark runs make (`/tmp/sqlrs-bench-*`), by name. */
function benchRoots(): Set<string> {
  const names = new Set<string>();
  for (const entry of Deno.readDirSync("/tmp")) {
    if (entry.isDirectory && entry.name.startsWith("sqlrs-bench-")) names.add(entry.name);
  }
  return names;
}

testNeeding(
  need(Deno.uid() === 0, "root (the benchmark mounts its loop files)"),
  "bench --smoke measures every probe, prints every goal line, writes its results and cleans up",
  async () => {
    const out = await Deno.makeTempDir({ prefix: "sqlrs-bench-test-out-" });
    try {
      const before = benchRoots();
      const result = await runProgram(
        Deno.execPath(),
        ["run", "-A", join(REPO, "bench", "main.ts"), "--smoke", "--out", out],
        { cwd: REPO, env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" } },
      );
      assert.equal(result.code, 0, `bench --smoke failed:\n${result.stdout}\n${result.stderr.slice(-4000)}`);

      const results = JSON.parse(await Deno.readTextFile(join(out, "latest.json"))) as BenchResults;
      assert.equal(results.mode, "smoke");
      for (const backend of results.backends) {
        hasNeeded(need(backend.available, `snapshot backend ${backend.kind} (${backend.reason})`));
      }
      assert.ok(results.figures.length > 0, "no figures");
      for (const figure of results.figures) {
        assert.equal(figure.error, undefined, `${figure.id}: ${figure.error}`);
        assert.ok(
          figure.runs >= 1 && figure.median !== null && figure.median > 0,
          `${figure.id} not measured`,
        );
      }

      // Every goal line (issues 9 and 15), in the JSON (name, target, measured, pass), the report and the
      // output: 6 of issue 9, 2 of Liquibase, the series' cold goal on btrfs, overlay and copy, its
      // edit-last and add-new goals on every backend measured, and 11 of the pool (issue 18).
      const markdown = await Deno.readTextFile(join(out, "benchmarks.md"));
      const measuredBackends = results.backends.filter((backend) => backend.available).length;
      assert.equal(results.goals.length, 8 + 3 + 11 + 2 * measuredBackends);
      for (const goal of results.goals) {
        assert.ok(goal.name !== "" && goal.target !== "", JSON.stringify(goal));
        assert.ok(result.stdout.includes(goal.name), `goal not printed: ${goal.name}`);
        assert.ok(
          markdown.includes(`| ${goal.name} | ${goal.target} |`),
          `goal not in the report: ${goal.name}`,
        );
        // A smoke run's size ladder is scales 1 and 2.
        const largeScaleOnly = goal.name.includes("template clone at scale 100");
        const needsDocker = goal.name.startsWith("docker") &&
          !hasNeeded(need(goal.measured !== null, `docker for the benchmark (${goal.basis})`));
        if (largeScaleOnly || needsDocker) {
          assert.equal(goal.measured, null);
          assert.equal(goal.pass, null);
        } else {
          assert.equal(typeof goal.measured, "number", `${goal.name}: ${goal.basis}`);
          assert.equal(typeof goal.pass, "boolean", goal.name);
        }
      }
      assert.ok(markdown.includes("](latest.svg)"), "the report does not show the chart");
      assert.ok((await Deno.readTextFile(join(out, "latest.svg"))).startsWith("<svg"));

      // Servers, mounts, loop devices and files all lived under the run's root, which is gone.
      const left = [...benchRoots()].filter((name) => !before.has(name));
      assert.deepEqual(left, [], "the benchmark left its root behind");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);
