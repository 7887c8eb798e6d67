/**
 * What every runtime does the same way with a PostgreSQL server, whatever runs it: the address
 * clients use, connection arguments of the tools, the guards before initdb, readiness read from
 * `postmaster.pid`, and the start loop that moves to another port when one is taken.
 *
 * Private to `engine/runtime/`.
 *
 * @module
 */

import { join } from "node:path";
import { messageOf, SqlrsError } from "../../shared/errors.ts";
import type { ExecResult, StreamingChild } from "../exec.ts";
import type { ServerHandle } from "./types.ts";
import { LOOPBACK, serverAddress } from "./address.ts";
import { cancelled, sleep } from "./_support.ts";

/** The superuser every base is initialised with (no password: it reaches a server through its socket only). */
export const SUPERUSER = "postgres";
/** How many ports a start tries before it gives up. */
const PORT_ATTEMPTS = 5;
/** How often readiness reads `postmaster.pid`. */
const READY_POLL_MS = 3;
/** The line of `postmaster.pid` holding the server's status (PostgreSQL's LOCK_FILE_LINE_PM_STATUS). */
const PID_FILE_STATUS_LINE = 7;

/** The connection string a client on this machine uses for `database` of `server`: its handle's role and password. */
export function serverDsn(server: ServerHandle, database = "postgres"): string {
  const login = `${encodeURIComponent(server.user)}:${encodeURIComponent(server.password)}`;
  return `postgres://${login}@${serverAddress(server)}:${server.port}/${encodeURIComponent(database)}`;
}

/**
 * The arguments that connect psql or pgbench to a server (appended after the user's arguments):
 * psql takes the database with `-d`, pgbench as its last positional argument.
 */
export function connectionArgs(
  tool: "psql" | "pgbench",
  target: { host: string; port: number; user: string },
  database: string,
): string[] {
  const connection = ["-h", target.host, "-p", String(target.port), "-U", target.user];
  return tool === "psql" ? [...connection, "-d", database] : [...connection, database];
}

/** Collects a tool's exit code and whole output (for short queries, not for user runs). */
export async function collectOutput(child: StreamingChild): Promise<ExecResult> {
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.status,
  ]);
  return { code, stdout, stderr };
}

/**
 * Refuses a directory initdb must not get: one that is not empty (or cannot be read).
 * @throws {SqlrsError}
 */
export async function assertInitdbTarget(dataDir: string): Promise<void> {
  let empty = true;
  try {
    for await (const _ of Deno.readDir(dataDir)) {
      empty = false;
      break;
    }
  } catch (error) {
    throw new SqlrsError("internal_error", `Cannot initialise ${dataDir}: ${messageOf(error)}`);
  }
  if (!empty) {
    throw new SqlrsError("internal_error", `Cannot initialise ${dataDir}: the directory is not empty`);
  }
}

/**
 * Gives a data directory a mode PostgreSQL starts on (0700, or 0750 for group-readable clusters): a
 * copy may carry another.
 */
export async function fixDataDirMode(dataDir: string, info: Deno.FileInfo): Promise<void> {
  const mode = (info.mode ?? 0) & 0o777;
  if (mode !== 0o700 && mode !== 0o750) await Deno.chmod(dataDir, 0o700);
}

/** The lines of `<dataDir>/postmaster.pid`, or undefined when there is none. */
export async function readPidFile(dataDir: string): Promise<string[] | undefined> {
  try {
    return (await Deno.readTextFile(join(dataDir, "postmaster.pid"))).split("\n");
  } catch {
    return undefined;
  }
}

/** Whether `postmaster.pid` says its server accepts connections. */
export function acceptsConnections(pidFile: readonly string[] | undefined): boolean {
  const status = pidFile?.[PID_FILE_STATUS_LINE]?.trim();
  return status === "ready" || status === "standby";
}

/** How a wait for readiness ended. */
export type WaitOutcome = { ready: true } | { failed: string } | { aborted: true };

/** Options of {@link waitReady}. */
export interface WaitReadyOptions {
  signal: AbortSignal | undefined;
  timeoutMs: number;
  /** Whether these `postmaster.pid` lines are the ready server's (not a stale file's). */
  isReady(pidFile: string[] | undefined): boolean;
  /** Why the server can no longer become ready (it exited), or undefined while it may. */
  gone(): Promise<string | undefined>;
  /** Ask {@link gone} at most this often (a daemon round trip is dearer than a file read). */
  goneEveryMs?: number;
}

/** Polls `postmaster.pid` every few milliseconds (instead of `pg_ctl -w`'s 100 ms) until the server is ready. */
export async function waitReady(dataDir: string, options: WaitReadyOptions): Promise<WaitOutcome> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  let nextGoneCheck = started + (options.goneEveryMs ?? 0);
  for (;;) {
    if (options.signal?.aborted) return { aborted: true };
    if (options.isReady(await readPidFile(dataDir))) return { ready: true };
    if (Date.now() >= nextGoneCheck) {
      const why = await options.gone();
      if (why !== undefined) return { failed: why };
      nextGoneCheck = Date.now() + (options.goneEveryMs ?? 0);
    }
    if (Date.now() >= deadline) return { failed: `not ready after ${options.timeoutMs / 1000} s` };
    await sleep(READY_POLL_MS);
  }
}

/** The server settings for durability: fsync off only on a scratch data directory (see StartOptions.scratch). */
export function durabilityArgs(scratch: boolean | undefined): string[] {
  return ["-c", scratch === true ? "fsync=off" : "fsync=on"];
}

/** What a start attempt returns when its port was taken and another attempt may follow. */
export const PORT_TAKEN: unique symbol = Symbol("port taken");

/**
 * Starts a server, moving to a free port when the one tried is taken: `attempt` gets the port (the
 * preferred one first) and whether another attempt may follow, and returns {@link PORT_TAKEN} to ask for it.
 * @throws {SqlrsError} `cancelled` when `signal` aborts between attempts
 */
export async function startOnFreePort<T>(
  preferred: number | undefined,
  options: { signal: AbortSignal | undefined; what: string },
  attempt: (port: number, mayRetry: boolean) => Promise<T | typeof PORT_TAKEN>,
): Promise<T> {
  for (let n = 1;; n++) {
    if (options.signal?.aborted) throw cancelled(options.signal, options.what);
    const result = await attempt(portForAttempt(n, preferred), n < PORT_ATTEMPTS);
    if (result !== PORT_TAKEN) return result;
  }
}

/** The port for start attempt `attempt` (1-based): `preferred` first, when given, then free ones. */
function portForAttempt(attempt: number, preferred: number | undefined): number {
  return attempt === 1 && preferred !== undefined ? preferred : freePort();
}

/** A loopback TCP port that was free a moment ago (the caller retries if a server takes it first). */
function freePort(): number {
  const listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** The error of a server that did not come up, quoting its log. */
export function startFailed(
  where: string,
  dataDir: string,
  reason: string,
  logFile: string,
  tail: string,
): SqlrsError {
  return new SqlrsError(
    "internal_error",
    `PostgreSQL failed to start${where} on ${dataDir} (${reason}); ${logFile} ends with:\n${tail}`,
    { details: { dataDir, logFile } },
  );
}
