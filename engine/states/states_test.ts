import assert from "node:assert/strict";
import { join } from "node:path";
import { SqlrsError } from "../../shared/errors.ts";
import { Registry } from "../registry/registry.ts";
import { createCopyStateFS } from "../statefs/copy.ts";
import { StoreLayout } from "../store_layout.ts";
import { type NewState, States } from "./states.ts";
import { StateLeases } from "./leases.ts";

const STORE_DIR = "host/pg16";

/** A States over a copy-backend store in a fresh temporary directory, with a stopped data directory. */
async function withStates(
  fn: (env: { states: States; registry: Registry; dataDir: string; root: string }) => Promise<void>,
) {
  const root = await Deno.makeTempDir({ prefix: "sqlrs-states-" });
  const layout = new StoreLayout(root);
  const registry = new Registry(join(root, "state.db"));
  try {
    const dataDir = join(root, "jobs", "j1", "runtime");
    await Deno.mkdir(join(dataDir, "base"), { recursive: true });
    await Deno.writeTextFile(join(dataDir, "PG_VERSION"), "16\n");
    await Deno.writeFile(join(dataDir, "base", "1259"), new Uint8Array(64 * 1024).fill(1));
    const base = layout.baseDir({ storeDir: STORE_DIR });
    await Deno.mkdir(base, { recursive: true });
    await Deno.writeTextFile(join(base, "PG_VERSION"), "16\n");
    const states = new States({ registry, layout, statefs: createCopyStateFS(root) });
    await fn({ states, registry, dataDir, root });
  } finally {
    registry.close();
    await Deno.remove(root, { recursive: true });
  }
}

function newState(stateId: string, parent: string | null = null): NewState {
  return {
    state_id: stateId,
    parent_state_id: parent,
    image_id: "host",
    store_dir: STORE_DIR,
    prepare_kind: "psql",
    prepare_args_normalized: "-c select 1",
    inputs: null,
  };
}

/** Every entry under `dir` whose name starts with `.tmp-`. */
async function temporaries(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name).filter((name) =>
    name.startsWith(".tmp-")
  );
}

const A = "a".repeat(64);
const B = "b".repeat(64);

Deno.test("States.publish() records a complete state of its own size, admitted before it is named", async () => {
  await withStates(async ({ states, registry, dataDir, root }) => {
    const admitted: number[] = [];
    const previous = new StoreLayout(root).baseDir({ storeDir: STORE_DIR });
    const size = await states.publish(newState(A), dataDir, {
      previous,
      admit: (bytes) => {
        admitted.push(bytes);
        return Promise.resolve();
      },
    });
    assert.deepEqual(admitted, [size]);
    assert.ok(size >= 64 * 1024, `size ${size}`);
    assert.equal(registry.getState(A)?.size_bytes, size);
    assert.ok(states.isComplete(A));
    assert.equal(await Deno.readTextFile(join(states.path(STORE_DIR, A), "PG_VERSION")), "16\n");
    assert.deepEqual(await temporaries(join(root, "engines", STORE_DIR, "states")), []);
    const usage = await states.usage();
    assert.equal(usage.usedBytes, size);
    assert.ok(usage.totalBytes > 0 && usage.freeBytes <= usage.totalBytes);
  });
});

Deno.test("States.publish() refused by admit leaves neither the state, its row nor a temporary copy", async () => {
  await withStates(async ({ states, registry, dataDir, root }) => {
    const full = new SqlrsError("cache_full_unreclaimable", "full");
    await assert.rejects(
      states.publish(newState(A), dataDir, { previous: dataDir, admit: () => Promise.reject(full) }),
      (error) => error === full,
    );
    assert.equal(registry.getState(A), undefined);
    assert.equal(states.isComplete(A), false);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(join(root, "engines", STORE_DIR, "states"))), []);
  });
});

Deno.test("States: an incomplete recorded state is discarded by ensureReady, and remove re-measures children", async () => {
  await withStates(async ({ states, registry, dataDir }) => {
    const admit = () => Promise.resolve();
    await states.publish(newState(A), dataDir, { previous: dataDir, admit });
    await states.publish(newState(B, A), dataDir, { previous: states.path(STORE_DIR, A), admit });
    // B shares every file with A (hard links): it holds only its directories until A goes.
    assert.ok((registry.getState(B)?.size_bytes ?? 0) < 64 * 1024, "B shares its files with A");
    await states.remove(registry.getState(A)!);
    assert.equal(registry.getState(A), undefined);
    assert.ok((registry.getState(B)?.size_bytes ?? 0) >= 64 * 1024, "B now holds what it shared with A");
    // A state taken from a live server (postmaster.pid) is not complete: it goes, to be rebuilt.
    await Deno.writeTextFile(join(states.path(STORE_DIR, B), "postmaster.pid"), "1\n");
    assert.equal(states.isComplete(B), false);
    assert.equal(await states.ensureReady(B), false);
    assert.equal(registry.getState(B), undefined);
    assert.equal(await states.ensureReady(B), false);
  });
});

Deno.test("StateLeases: what holders lease is held until each releases it", () => {
  const leases = new StateLeases();
  leases.hold("job1", [A, B]);
  leases.hold("job2", [B]);
  assert.deepEqual([...leases.held()].sort(), [A, B]);
  leases.hold("job1", [B]);
  assert.deepEqual([...leases.held()], [B]);
  leases.release("job2");
  assert.deepEqual([...leases.held()], [B]);
  leases.release("job1");
  assert.deepEqual([...leases.held()], []);
});
