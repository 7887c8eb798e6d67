/**
 * Engine crashes during prepares, on real PostgreSQL (host runtime) and every snapshot backend the
 * machine has: the engine is SIGKILLed at a random moment of a cold 3-step prepare, then the same
 * prepare runs again. Every rerun must succeed with the right data; afterwards (once
 * `instances.collectGrace` has passed) the instances are exactly those whose DSN some client printed,
 * and no server, mount, temporary entry or build area is left that `ls` does not show.
 *
 * The client whose engine was killed may fail, or reconnect and print its DSN: both are fine, as long
 * as an instance nobody was given does not outlive the grace period.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { postgresUnder, processAlive, Sandbox, waitFor } from "./_sandbox.ts";
import { sandboxOn, type StoreKind, storeNeed } from "./_stores.ts";
import { testNeeding } from "./_needs.ts";
import { hostPsql } from "./_prepare_suite.ts";

const GRACE = "2s";
/** Trials on the backend `auto` picks here, and on each other backend. */
const AUTO_TRIALS = 30;
const OTHER_TRIALS = 6;
const KILL_WITHIN_MS = 6000;

type Listing = {
  instances: Array<{ instance_id: string; dsn: string }>;
  states: Array<{ state_id: string }>;
};

async function listing(sandbox: Sandbox): Promise<Listing> {
  return JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--instances", "--states"])).stdout);
}

/** A cold 3-step prepare (the trial number makes its states new), each step taking a while. */
function stepsOf(trial: number): string[] {
  return [
    "-c",
    `select pg_sleep(0.5); create table s1 as select ${trial} as v`,
    "-c",
    "select pg_sleep(0.5); create table s2 as select v + 1 as v from s1",
    "-c",
    "select pg_sleep(0.5); create table s3 as select v + 1 as v from s2",
  ];
}

/** The instance id a `--output json prepare` printed, if it printed one. */
function printedInstance(stdout: string): string | undefined {
  try {
    return JSON.parse(stdout).instance_id;
  } catch {
    return undefined;
  }
}

async function killEngine(sandbox: Sandbox): Promise<void> {
  assert.ok(await waitFor(async () => (await sandbox.engineInfo()) !== undefined, 30_000), "engine.json");
  const { pid } = (await sandbox.engineInfo())!;
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // exited on its own
  }
  assert.ok(await waitFor(() => !processAlive(pid), 10_000), `engine ${pid} died`);
}

/** Paths of `.tmp-*` entries under `root`, not entering PostgreSQL data directories. */
function temporaries(root: string, depth = 0): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(root)) {
    const path = join(root, entry.name);
    if (entry.name.startsWith(".tmp-")) found.push(path);
    else if (entry.isDirectory && depth < 6) {
      try {
        Deno.statSync(join(path, "PG_VERSION"));
      } catch {
        found.push(...temporaries(path, depth + 1));
      }
    }
  }
  return found;
}

function entries(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
  } catch {
    return [];
  }
}

async function runTrials(sandbox: Sandbox, trials: number): Promise<void> {
  await sandbox.cliOk(["status"]);
  const printed = new Set<string>();
  let reconnected = 0;
  const journal: string[] = [];
  for (let trial = 0; trial < trials; trial++) {
    const steps = stepsOf(trial);
    const killed = sandbox.cli(["--output", "json", "prepare:psql", "--", ...steps]);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * KILL_WITHIN_MS));
    await killEngine(sandbox);
    const first = await killed;
    const firstInstance = first.code === 0 ? printedInstance(first.stdout) : undefined;
    if (firstInstance !== undefined) {
      printed.add(firstInstance);
      reconnected++;
    }
    const rerun = await sandbox.cli(["--output", "json", "prepare:psql", "--", ...steps]);
    assert.equal(rerun.code, 0, `trial ${trial}: the rerun failed: ${rerun.stderr}`);
    const result = JSON.parse(rerun.stdout);
    printed.add(result.instance_id);
    journal.push(
      `trial ${trial}: killed client exit ${first.code} instance ${
        firstInstance ?? "-"
      }; rerun job ${result.job_id} instance ${result.instance_id}`,
    );
    const data = await hostPsql(result.dsn, "select v from s3");
    assert.deepEqual([data.code, data.stdout], [0, String(trial + 2)], `trial ${trial}: ${data.stderr}`);
  }
  console.log(`${trials} trials: ${reconnected} killed clients printed a DSN, every rerun succeeded`);

  // A job resumed after the last crash may still be running; then, once the grace period has
  // passed, instances nobody was given are gone.
  using client = await sandbox.client();
  assert.ok(
    await waitFor(
      async () =>
        (await client.listJobs()).every((job) => job.status !== "queued" && job.status !== "running"),
      60_000,
    ),
    "every job ended",
  );
  let listed: Listing = await listing(sandbox);
  const ids = () => listed.instances.map((instance) => instance.instance_id).sort();
  await waitFor(async () => {
    listed = await listing(sandbox);
    return ids().join() === [...printed].sort().join();
  }, 60_000);
  const extra = ids().filter((id) => !printed.has(id));
  const log = Deno.readTextFileSync(join(sandbox.stateDir, "logs", "engine.log")).split("\n");
  assert.deepEqual(
    ids(),
    [...printed].sort(),
    "the instances are exactly the delivered ones; the engine log on the others:\n" +
      log.filter((line) => extra.some((id) => line.includes(id))).join("\n") + "\n" + journal.join("\n"),
  );

  const store = sandbox.storeRoot;
  const serverDirs = postgresUnder(store).map((pid) => Deno.readLinkSync(`/proc/${pid}/cwd`));
  const strays = serverDirs.filter((dir) =>
    !ids().some((id) => dir.startsWith(join(store, "instances", id)))
  );
  assert.deepEqual(
    strays,
    [],
    "servers of no listed instance; the engine log on them:\n" +
      log.filter((line) => strays.some((dir) => line.includes(dir.split("/").at(-2) as string))).join("\n"),
  );
  assert.equal(serverDirs.length, printed.size, "one server per instance");
  const mounts = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((point) => point.startsWith(`${store}/`));
  for (const point of mounts) {
    assert.ok(ids().some((id) => point.startsWith(join(store, "instances", id))), `mount ${point}`);
  }
  assert.deepEqual(temporaries(store), [], "no temporary entry");
  assert.deepEqual(entries(join(store, "jobs")), [], "no build area");
  assert.deepEqual(entries(join(store, "instances")), ids(), "instance directories");
  const stateIds = listed.states.map((state) => state.state_id).sort();
  for (const engine of entries(join(store, "engines"))) {
    for (const version of entries(join(store, "engines", engine))) {
      for (const state of entries(join(store, "engines", engine, version, "states"))) {
        assert.ok(stateIds.includes(state), `state directory ${state} is listed`);
      }
    }
  }
  for (const instance of listed.instances) {
    const connected = await hostPsql(instance.dsn, "select v from s3");
    assert.equal(connected.code, 0, `${instance.instance_id}: ${connected.stderr}`);
  }
}

/** A sandbox whose engine config has a short collect grace (and `backend`, when given). */
async function crashSandbox(kind: StoreKind | "auto"): Promise<Sandbox> {
  const sandbox = kind === "auto"
    ? await Sandbox.create((dir) => ({ SQLRS_STATE_STORE: join(dir, "store") }))
    : await sandboxOn(kind);
  await Deno.mkdir(sandbox.storeRoot, { recursive: true, mode: 0o755 });
  const config = {
    instances: { collectGrace: GRACE },
    ...(kind === "auto" ? {} : { snapshot: { backend: kind } }),
  };
  await Deno.writeTextFile(join(sandbox.storeRoot, "config.json"), JSON.stringify(config));
  return sandbox;
}

/** The backend `auto` picks on this machine (where the sandboxes live). */
async function autoBackend(): Promise<string> {
  await using sandbox = await crashSandbox("auto");
  const status = JSON.parse((await sandbox.cliOk(["--output", "json", "status"])).stdout);
  return status.snapshot_backends.find((backend: { selected: boolean }) => backend.selected).name;
}

const picked = await autoBackend();

Deno.test(`${AUTO_TRIALS} engine SIGKILLs during a 3-step prepare on the default backend (${picked})`, async () => {
  await using sandbox = await crashSandbox("auto");
  await runTrials(sandbox, AUTO_TRIALS);
});

for (const kind of ["btrfs", "overlay", "copy"] as const) {
  testNeeding(await storeNeed(kind), {
    name: `${OTHER_TRIALS} engine SIGKILLs during a 3-step prepare on ${kind}`,
    ignore: kind === picked,
    async fn() {
      await using sandbox = await crashSandbox(kind);
      await runTrials(sandbox, OTHER_TRIALS);
    },
  });
}
