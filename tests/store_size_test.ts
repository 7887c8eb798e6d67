/**
 * What a series of small migrations costs in the store, on every snapshot backend this machine has
 * (real PostgreSQL): no state is reported as 0 B, a state carries at most two 1 MB WAL segments,
 * `status --cache` is within 10 % of what the states really take (`du` on overlay and copy, exclusive
 * data bytes on btrfs), the store stays within 3× a data directory made by hand, and a second series
 * completes under a cap of half the store it would otherwise need (states in the middle of chains are
 * evicted), then a rerun rebuilds what was evicted and gives the same data.
 *
 * Each series is a history that grew: prepared at half its length, then in full. That leaves states in
 * the middle of its chain (the last two of the first half), as a project's history does, whatever the
 * keep policy decided within one prepare.
 *
 * Each backend prints one line of figures (`store-size <backend>: ...`) for the record.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runOk } from "../engine/exec.ts";
import type { Sandbox } from "./_sandbox.ts";
import { sandboxOn, type StoreKind, storeNeed } from "./_stores.ts";
import { testNeeding } from "./_needs.ts";
import { prepare } from "./_prepare_suite.ts";
import { initdb, ownedDir, pgTools, psqlFile, startDirect, stop } from "../bench/_postgres.ts";

/** As many as the bench's series probe: the store, its accounting and the cap are checked at that size. */
const STEPS = 150;

/** Prepares the first half of `args` (`-f file` pairs, after `head`), removes its instance, then all of it. */
async function grownSeries(sandbox: Sandbox, head: string[], args: string[]) {
  const half = await prepare(sandbox, [...head, ...args.slice(0, STEPS)]);
  await sandbox.cliOk(["rm", half.instance_id]);
  return await prepare(sandbox, [...head, ...args]);
}
const MiB = 1024 * 1024;

interface StateListing {
  state_id: string;
  size_bytes: number | null;
}

/** Writes `STEPS` small migrations of mixed DDL and inserts into `dir`; returns their `-f` arguments. */
async function writeSeries(dir: string): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const args: string[] = [];
  for (let i = 1; i <= STEPS; i++) {
    const table = `t${Math.ceil(i / 3)}`;
    const sql = i % 3 === 1
      ? `create table ${table} (id int primary key, note text);\n` +
        `insert into ${table} select g, md5(g::text) from generate_series(1, 200) g;\n`
      : i % 3 === 2
      ? `alter table ${table} add column extra int default ${i};\ncreate index on ${table} (note);\n`
      : `insert into ${table} select g, 'more' from generate_series(201, 400) g;\n` +
        `update ${table} set extra = id where id % 10 = 0;\n`;
    const file = join(dir, `${String(i).padStart(3, "0")}_step.sql`);
    await Deno.writeTextFile(file, sql);
    args.push("-f", file);
  }
  return args;
}

/** What the series leaves in its tables, as one line: `t1:<rows>:<sum of extra>,t2:...`. */
const CONTENT_SQL = `select string_agg(line, ',' order by line) from (${
  Array.from({ length: Math.ceil(STEPS / 3) }, (_, i) => `t${i + 1}`)
    .map((t) => `select '${t}:' || count(*) || ':' || coalesce(sum(extra), 0) as line from ${t}`)
    .join(" union all ")
}) lines`;

async function listStates(sandbox: Sandbox): Promise<StateListing[]> {
  return JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "-s"])).stdout).states;
}

async function cacheStatus(sandbox: Sandbox): Promise<{ usage_bytes: number; state_count: number }> {
  return JSON.parse((await sandbox.cliOk(["--output", "json", "status", "--cache"])).stdout).cache;
}

/** The only engine directory of the store (`engines/<engine>/<version>`) holding `base` and `states`. */
async function engineDir(sandbox: Sandbox): Promise<string> {
  const out = await runOk([
    "find",
    join(sandbox.storeRoot, "engines"),
    "-mindepth",
    "1",
    "-maxdepth",
    "3",
    "-name",
    "base",
  ]);
  const bases = out.trim().split("\n").filter((line) => line !== "");
  assert.equal(bases.length, 1, `one base in the store: ${bases.join(", ")}`);
  return join(bases[0] as string, "..");
}

/** du's bytes for each path, counting a hard-linked inode once, under the first path that has it. */
async function du(paths: string[]): Promise<number[]> {
  const out = await runOk(["du", "-s", "-x", "-B1", "--", ...paths]);
  return out.trim().split("\n").map((line) => Number(line.split(/\s+/)[0]));
}

/** Subvolume id of a btrfs subvolume. */
async function subvolumeId(path: string): Promise<string> {
  const id = /Subvolume ID:\s*(\d+)/.exec(await runOk(["btrfs", "subvolume", "show", path]))?.[1];
  assert.ok(id !== undefined, `no subvolume id for ${path}`);
  return id;
}

/** Exclusive bytes of a level-1 qgroup made of the given subvolumes (quotas must be on). */
async function groupExclusive(mount: string, group: string, members: string[]): Promise<number> {
  await runOk(["btrfs", "qgroup", "create", group, mount]);
  for (const path of members) {
    await runOk(["btrfs", "qgroup", "assign", "--no-rescan", `0/${await subvolumeId(path)}`, group, mount]);
  }
  await runOk(["btrfs", "quota", "rescan", "-w", mount]);
  const out = await runOk(["btrfs", "qgroup", "show", "--raw", mount]);
  const row = out.split("\n").map((line) => line.trim().split(/\s+/)).find((fields) => fields[0] === group);
  assert.ok(row !== undefined, `qgroup ${group} not shown:\n${out}`);
  return Number(row[2]);
}

/** Data bytes the files under `path` reference, each extent once (`btrfs filesystem du`: exclusive + set shared). */
async function dataExtents(path: string): Promise<number> {
  const out = await runOk(["btrfs", "filesystem", "du", "-s", "--raw", path]);
  const row = out.trim().split("\n").pop()?.trim().split(/\s+/) ?? [];
  return Number(row[1]) + Number(row[2]);
}

/**
 * What the states really take beyond the base: du on overlay and copy (a hard link counts once); on
 * btrfs, their exclusive data bytes (the data extents of base and states, less those of the base).
 * Jobs' clones and instances are gone by then.
 */
async function measureStates(kind: StoreKind, sandbox: Sandbox): Promise<number> {
  const dir = await engineDir(sandbox);
  if (kind !== "btrfs") return (await du([join(dir, "base"), join(dir, "states")]))[1] as number;
  await runOk(["btrfs", "filesystem", "sync", sandbox.storeRoot]);
  return (await dataExtents(dir)) - (await dataExtents(join(dir, "base")));
}

/** What base and states take together: du, or on btrfs the exclusive bytes of a qgroup of them all. */
async function measureStore(kind: StoreKind, sandbox: Sandbox): Promise<number> {
  const dir = await engineDir(sandbox);
  if (kind !== "btrfs") return (await du([dir])).reduce((sum, bytes) => sum + bytes, 0);
  const states = (await Array.fromAsync(Deno.readDir(join(dir, "states"))))
    .filter((entry) => entry.isDirectory && !entry.name.startsWith("."))
    .map((entry) => join(dir, "states", entry.name));
  // Quotas only now: with them on from the start, btrfs could have told the engine more than without.
  await runOk(["btrfs", "quota", "enable", sandbox.storeRoot]);
  return await groupExclusive(sandbox.storeRoot, "1/100", [join(dir, "base"), ...states]);
}

/** du of a data directory made by hand: initdb, one psql per migration, a clean stop. */
async function byHandDataDir(workDir: string, args: string[]): Promise<number> {
  const tools = await pgTools();
  const root = join(workDir, "by-hand");
  await ownedDir(tools, root, 0o755);
  const dataDir = join(root, "data");
  await initdb(tools, dataDir, true);
  await ownedDir(tools, join(root, "socket"));
  const server = await startDirect(tools, dataDir, join(root, "socket"));
  try {
    for (let i = 1; i < args.length; i += 2) await psqlFile(tools, server, args[i] as string);
  } finally {
    await stop(server);
  }
  const [bytes] = await du([dataDir]);
  await Deno.remove(root, { recursive: true });
  return bytes as number;
}

function within(actual: number, expected: number, share: number): boolean {
  return Math.abs(actual - expected) <= share * expected;
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

async function storeSizeSeries(kind: StoreKind): Promise<void> {
  await using sandbox = await sandboxOn(kind);
  const args = await writeSeries(join(sandbox.dir, "series"));
  const first = await grownSeries(sandbox, [], args);
  const content = (await sandbox.query(first.instance_id, CONTENT_SQL)).stdout.trim();
  await sandbox.cliOk(["rm", first.instance_id]);

  // Every kept state costs something: a step always writes (its WAL, pg_control, the catalog). States are
  // kept by cost, the last two always.
  const states = await listStates(sandbox);
  assert.ok(states.length >= 2 && states.length <= STEPS, `${states.length} states kept`);
  const zero = states.filter((state) => !((state.size_bytes ?? 0) > 0));
  assert.deepEqual(zero.map((state) => state.state_id), [], "states reported as 0 B");

  // Small WAL: 1 MB segments, and a clean stop leaves no recycled ones behind. A state taken after a run
  // of many steps on one server was seen to keep 4 (the default would be two of 16 MB).
  const wal = join(await engineDir(sandbox), "states", first.state_id, "pg_wal");
  let walBytes = 0;
  for await (const entry of Deno.readDir(wal)) {
    if (entry.isFile) walBytes += (await Deno.stat(join(wal, entry.name))).size;
  }
  assert.ok(walBytes <= 4 * MiB, `the last state carries ${walBytes} bytes of WAL`);

  const reported = (await cacheStatus(sandbox)).usage_bytes;
  const measured = await measureStates(kind, sandbox);
  const store = await measureStore(kind, sandbox);
  const byHand = await byHandDataDir(sandbox.dir, args);
  console.log(
    `store-size ${kind}: ${STEPS} steps, ${states.length} states kept; status --cache ${mib(reported)}, ` +
      `really ${mib(measured)} (${((reported / measured - 1) * 100).toFixed(1)} %); store ${mib(store)} = ` +
      `${(store / byHand).toFixed(2)}× by hand (${mib(byHand)}); per state ${mib(measured / states.length)}`,
  );
  assert.ok(
    within(reported, measured, 0.1),
    `status --cache says ${reported} bytes, the states take ${measured}`,
  );
  assert.ok(store <= 3 * byHand, `the store takes ${store} bytes, by hand ${byHand}`);

  // Another series of the same size, grown the same way (a different first step changes every key),
  // under a cap of half of what both series would take: the first series' states are evicted to make
  // room, and so are the second series' own states in the middle of its chain once its jobs are done
  // with them. (A series prepared at once may keep only its last two states, which on btrfs take about
  // all the series needs: a cap of half of two such series would not leave room for anything else.)
  const cap = reported;
  await sandbox.cliOk(["config", "set", "cache.capacity.maxBytes", String(cap)]);
  // The first series' final state is a leaf; leaves are kept at least minStateAge (default minutes).
  await sandbox.cliOk(["config", "set", "cache.capacity.minStateAge", '"0s"']);
  const second = await grownSeries(sandbox, ["-c", "create table head (id int)"], args);
  const secondContent = (await sandbox.query(second.instance_id, CONTENT_SQL)).stdout.trim();
  assert.equal(secondContent, content);
  await sandbox.cliOk(["rm", second.instance_id]);
  const afterCap = await cacheStatus(sandbox);
  assert.ok(afterCap.usage_bytes <= cap, `usage ${afterCap.usage_bytes} over the cap ${cap}`);
  const left = new Set((await listStates(sandbox)).map((state) => state.state_id));
  assert.ok(
    states.some((state) => !left.has(state.state_id)),
    "none of the first series' states was evicted",
  );
  console.log(
    `store-size ${kind}: second series under a cap of ${mib(cap)}: ${afterCap.state_count} states kept, ` +
      `usage ${mib(afterCap.usage_bytes)}`,
  );

  // The first series again: what was evicted is rebuilt, and the data is the same.
  const rerun = await prepare(sandbox, args);
  assert.equal(rerun.state_id, first.state_id);
  assert.equal((await sandbox.query(rerun.instance_id, CONTENT_SQL)).stdout.trim(), content);
  await sandbox.cliOk(["rm", rerun.instance_id]);
  for (const state of await listStates(sandbox)) {
    assert.ok((state.size_bytes ?? 0) > 0, `state ${state.state_id} is reported as 0 B after evictions`);
  }
  // Children of evicted states were measured again: the usage is still what the states take.
  const after = {
    reported: (await cacheStatus(sandbox)).usage_bytes,
    measured: await measureStates(kind, sandbox),
  };
  console.log(
    `store-size ${kind}: after evictions and the rerun: status --cache ${mib(after.reported)}, really ${
      mib(after.measured)
    }`,
  );
  assert.ok(
    within(after.reported, after.measured, 0.1),
    `after evictions, status --cache says ${after.reported} bytes, the states take ${after.measured}`,
  );
}

for (const kind of ["overlay", "copy", "btrfs", "xfs-reflink"] as const) {
  testNeeding(
    await storeNeed(kind),
    `store size: a ${STEPS}-step series on ${kind} costs what it changed, and fits a cap below what two series need`,
    () => storeSizeSeries(kind),
  );
}
