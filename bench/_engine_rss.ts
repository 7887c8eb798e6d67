/**
 * The engine's memory (issue 18): its resident set (VmRSS) once the pool group's set-up has settled,
 * and again after a `run:psql` through the CLI that streams 2M rows (stdout to /dev/null) and a quiet
 * pause. One-shot figures in MB (10^6 bytes), not timings.
 *
 * @module
 */

import { spawn } from "./_exec.ts";
import { CLI, type Installation } from "./_fixtures.ts";
import type { Probe } from "./_harness.ts";
import { figure } from "./_suites.ts";

const ROWS = 2_000_000;
/** The quiet pause before each reading, so that what the engine frees (GC, buffers) is given back. */
const SETTLE_MS = 3_000;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The engine's VmRSS in MB: its pid from `engine.json`, the value (kB) from `/proc/<pid>/status`. */
async function engineRss(installation: Installation): Promise<number> {
  const { pid } = JSON.parse(await Deno.readTextFile(installation.paths.engineFile)) as { pid: number };
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kB = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kB === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kB) * 1024 / 1e6;
}

/**
 * Idle and after-2M-rows RSS of the installation's engine, read once (no warm-up): a second reading
 * would start from the memory the first streaming left, not from idle. `instance` is a running instance.
 */
export function engineRssProbe(installation: Installation, instance: string): Probe {
  const sql = `select g, md5(g::text) from generate_series(1, ${ROWS}) g`;
  const argv = [
    Deno.execPath(),
    "run",
    "-A",
    "--quiet",
    CLI,
    "run:psql",
    "--instance",
    instance,
    "--",
    "-c",
    sql,
  ];
  const common = {
    group: "pool",
    workload: "-",
    backend: "-",
    runtime: "host",
    technique: "sqlrs",
    unit: "MB",
  } as const;
  return {
    name: "pool.engine.rss",
    warmup: 0,
    runs: 1,
    figures: [
      figure({
        ...common,
        id: "pool.engine.rss.idle",
        metric: "idle",
        what: `engine resident memory, idle after the pool group's set-up (${SETTLE_MS / 1000} s quiet)`,
        command: "VmRSS in /proc/<engine.json pid>/status",
        via: "/proc",
      }),
      figure({
        ...common,
        id: "pool.engine.rss.after-2m-rows",
        metric: "after",
        what: `engine resident memory ${SETTLE_MS / 1000} s after a CLI run:psql streamed ${ROWS} rows`,
        command: `sqlrs run:psql --instance ID -- -c '${sql}' >/dev/null; VmRSS`,
        via: "cli",
      }),
    ],
    async run() {
      await pause(SETTLE_MS);
      const idle = await engineRss(installation);
      const child = spawn(argv, { cwd: installation.dir, env: installation.env });
      const status = await child.status;
      if (!status.success) throw new Error(`sqlrs run:psql exited ${status.code}: ${child.stderrTail()}`);
      await pause(SETTLE_MS);
      return { idle, after: await engineRss(installation) };
    },
  };
}
