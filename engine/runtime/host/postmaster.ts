/**
 * Postmasters on this machine, seen through `/proc` and `postmaster.pid`: which process serves which
 * data directory, stopping one, and clearing what a killed one left.
 *
 * @module
 */

import { basename, join, resolve } from "node:path";
import { SqlrsError } from "../../../shared/errors.ts";
import { sleep } from "../_support.ts";
import { readPidFile } from "../_pg_server.ts";

const STOP_POLL_MS = 2;
const FAST_SHUTDOWN_TIMEOUT_MS = 30_000;
const IMMEDIATE_SHUTDOWN_TIMEOUT_MS = 5_000;

/** Whether `pid` exists and is not a zombie (an exited postmaster may wait a while to be reaped). */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X" && state !== "";
  } catch {
    return false;
  }
}

/** The data directory of the postmaster `pid`, or undefined when `pid` is no postmaster. */
export async function postmasterDataDir(pid: number): Promise<string | undefined> {
  let argv: string[];
  try {
    argv = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0");
  } catch {
    return undefined;
  }
  if (argv[argv.length - 1] === "") argv.pop();
  const program = basename(argv[0] ?? "");
  // Backends rewrite their title ("postgres: checkpointer"), so only the postmaster passes this.
  if (program !== "postgres" && program !== "postmaster") return undefined;
  let dataDir: string | undefined;
  for (const [i, arg] of argv.entries()) {
    if (arg === "-D") dataDir = argv[i + 1];
    else if (arg.startsWith("-D")) dataDir = arg.slice(2);
  }
  if (dataDir !== undefined && dataDir.startsWith("/")) return dataDir;
  // The postmaster runs in its data directory.
  try {
    return (await Deno.readLink(`/proc/${pid}/cwd`)).replace(/ \(deleted\)$/, "");
  } catch {
    return undefined;
  }
}

export async function realPathOr(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch {
    return resolve(path);
  }
}

export async function samePath(a: string, b: string): Promise<boolean> {
  if (resolve(a) === resolve(b)) return true;
  return (await realPathOr(a)) === (await realPathOr(b));
}

/** Whether `pid` is a live postmaster serving `dataDir`. */
export async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const dir = await postmasterDataDir(pid);
  return dir !== undefined && (await samePath(dir, dataDir)) && (await processAlive(pid));
}

/** The pid of the postmaster serving `dataDir`: the handle's pid if it still is, else postmaster.pid's. */
export async function runningPostmaster(dataDir: string, hint?: number): Promise<number | undefined> {
  if (hint !== undefined && (await isPostmasterOf(hint, dataDir))) return hint;
  const pid = Number((await readPidFile(dataDir))?.[0]);
  return (await isPostmasterOf(pid, dataDir)) ? pid : undefined;
}

export function trySignal(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // already gone
  }
}

export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await processAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(STOP_POLL_MS);
  }
  return true;
}

/**
 * Stops a postmaster: fast shutdown (SIGINT), then immediate shutdown (SIGQUIT) after 30 s,
 * then SIGKILL. With `immediate` (its data directory is about to be deleted), it starts with the
 * immediate shutdown: no shutdown checkpoint, whose writes and fsyncs are most of a stop.
 */
export async function stopPostmaster(pid: number, immediate = false): Promise<void> {
  if (!immediate) {
    trySignal(pid, "SIGINT");
    if (await waitGone(pid, FAST_SHUTDOWN_TIMEOUT_MS)) return;
  }
  trySignal(pid, "SIGQUIT");
  if (await waitGone(pid, IMMEDIATE_SHUTDOWN_TIMEOUT_MS)) return;
  trySignal(pid, "SIGKILL");
  if (!(await waitGone(pid, IMMEDIATE_SHUTDOWN_TIMEOUT_MS))) {
    throw new SqlrsError("internal_error", `PostgreSQL (pid ${pid}) survived SIGKILL`);
  }
}

/** Live processes of a PostgreSQL build (postmaster or backend) whose working directory is `dataDir`. */
export async function serverProcessesOf(dataDir: string): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    try {
      const exe = basename((await Deno.readLink(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, ""));
      if (exe !== "postgres" && exe !== "postmaster") continue;
      const cwd = (await Deno.readLink(`/proc/${pid}/cwd`)).replace(/ \(deleted\)$/, "");
      if ((await samePath(cwd, dataDir)) && (await processAlive(pid))) found.push(pid);
    } catch {
      // gone, or not ours to inspect
    }
  }
  return found;
}

/**
 * Makes a data directory whose server died startable. PostgreSQL refuses to start while backends of
 * a killed postmaster still hold its shared memory ("pre-existing shared memory block is still in
 * use"): they exit on their own once they notice, so they get a few seconds, then SIGKILL. After that
 * no live postgres uses the directory, and a postmaster.pid left behind is stale: removed, so that a
 * pid reused by an unrelated process cannot block the start either.
 * @throws {SqlrsError} `conflict` when a live postmaster serves the directory
 */
export async function clearStalePidFile(dataDir: string): Promise<void> {
  const lines = await readPidFile(dataDir);
  if (lines === undefined) return;
  const pid = Number(lines[0]);
  if (await isPostmasterOf(pid, dataDir)) {
    throw new SqlrsError("conflict", `PostgreSQL already runs on ${dataDir} (pid ${pid})`);
  }
  const killAt = Date.now() + IMMEDIATE_SHUTDOWN_TIMEOUT_MS;
  for (
    let left = await serverProcessesOf(dataDir);
    left.length > 0;
    left = await serverProcessesOf(dataDir)
  ) {
    if (Date.now() >= killAt + IMMEDIATE_SHUTDOWN_TIMEOUT_MS) {
      throw new SqlrsError(
        "internal_error",
        `PostgreSQL processes ${left.join(", ")} of ${dataDir} survived SIGKILL`,
      );
    }
    if (Date.now() >= killAt) { for (const orphan of left) trySignal(orphan, "SIGKILL"); }
    await sleep(STOP_POLL_MS * 10);
  }
  await Deno.remove(join(dataDir, "postmaster.pid")).catch(() => {});
}
