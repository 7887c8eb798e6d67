/**
 * The `host` runtime: PostgreSQL server processes from a local installation.
 *
 * Each server gets its own loopback port and a private unix socket directory. Servers are started
 * detached (they outlive the engine) and found again through `/proc` and `postmaster.pid`, so a later
 * engine can stop what a killed one left running. Readiness is read from the status line of
 * `postmaster.pid` every few milliseconds instead of `pg_ctl -w`'s 100 ms polling.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { type ExecOptions, run, spawnDetached, spawnStreaming, type StreamingChild } from "../../exec.ts";
import { messageOf, SqlrsError } from "../../../shared/errors.ts";
import type { ResolvedImage, Runtime, ServerHandle, StartOptions, ToolOptions } from "../types.ts";
import {
  appendBaseSettings,
  buildOfImage,
  describeBuilds,
  findOnPathSync,
  findPgBuilds,
  imageOf,
  INITDB_RUN_ARGS,
  INSTALL_HINT,
  type PgBuild,
  selectBuild,
} from "./pg_install.ts";
import { assertUserCanReach, chownTree, isEngineUser, type ServerUser, serverUser } from "./server_user.ts";
import { extensionsDigest } from "./extensions.ts";
import {
  cancelled,
  fileSize,
  isUnder,
  lastLines,
  logTail,
  loopbackDsn,
  portForAttempt,
  sha256Hex,
  sleep,
} from "../_support.ts";

const READY_POLL_MS = 3;
const STOP_POLL_MS = 2;
const START_TIMEOUT_MS = 30_000;
const FAST_SHUTDOWN_TIMEOUT_MS = 30_000;
const IMMEDIATE_SHUTDOWN_TIMEOUT_MS = 5_000;
const PORT_ATTEMPTS = 5;
/** Linux's sun_path holds 108 bytes; stay well below. */
const MAX_SOCKET_PATH = 100;
const SHORT_SOCKET_ROOT = `/tmp/sqlrs-sock-${Deno.uid()}`;

function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

// ---------------------------------------------------------------------------------------------
// /proc

/** Whether `pid` exists and is not a zombie (an exited postmaster may wait a while to be reaped). */
async function processAlive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X" && state !== "";
  } catch {
    return false;
  }
}

/** The data directory of the postmaster `pid`, or undefined when `pid` is no postmaster. */
async function postmasterDataDir(pid: number): Promise<string | undefined> {
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

async function realPathOr(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch {
    return resolve(path);
  }
}

async function samePath(a: string, b: string): Promise<boolean> {
  if (resolve(a) === resolve(b)) return true;
  return (await realPathOr(a)) === (await realPathOr(b));
}

/** Whether `pid` is a live postmaster serving `dataDir`. */
async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const dir = await postmasterDataDir(pid);
  return dir !== undefined && (await samePath(dir, dataDir)) && (await processAlive(pid));
}

/** The lines of `<dataDir>/postmaster.pid`, or undefined when there is none. */
async function readPidFile(dataDir: string): Promise<string[] | undefined> {
  try {
    return (await Deno.readTextFile(join(dataDir, "postmaster.pid"))).split("\n");
  } catch {
    return undefined;
  }
}

/** The pid of the postmaster serving `dataDir`: the handle's pid if it still is, else postmaster.pid's. */
async function runningPostmaster(dataDir: string, hint?: number): Promise<number | undefined> {
  if (hint !== undefined && (await isPostmasterOf(hint, dataDir))) return hint;
  const pid = Number((await readPidFile(dataDir))?.[0]);
  return (await isPostmasterOf(pid, dataDir)) ? pid : undefined;
}

function trySignal(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await processAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(STOP_POLL_MS);
  }
  return true;
}

/**
 * Stops a postmaster: fast shutdown (SIGINT), then immediate shutdown (SIGQUIT) after 30 s,
 * then SIGKILL.
 */
async function stopPostmaster(pid: number): Promise<void> {
  trySignal(pid, "SIGINT");
  if (await waitGone(pid, FAST_SHUTDOWN_TIMEOUT_MS)) return;
  trySignal(pid, "SIGQUIT");
  if (await waitGone(pid, IMMEDIATE_SHUTDOWN_TIMEOUT_MS)) return;
  trySignal(pid, "SIGKILL");
  if (!(await waitGone(pid, IMMEDIATE_SHUTDOWN_TIMEOUT_MS))) {
    throw new SqlrsError("internal_error", `PostgreSQL (pid ${pid}) survived SIGKILL`);
  }
}

async function removeShortSocketDir(socketDir: string | null | undefined): Promise<void> {
  if (socketDir === null || socketDir === undefined || dirname(socketDir) !== SHORT_SOCKET_ROOT) return;
  await Deno.remove(socketDir, { recursive: true }).catch(() => {});
}

// ---------------------------------------------------------------------------------------------
// Directories and ownership

async function ensureOwned(path: string, user: ServerUser, recursive: boolean): Promise<Deno.FileInfo> {
  const info = await Deno.stat(path);
  if (!isEngineUser(user) && (info.uid !== user.uid || info.gid !== user.gid)) {
    if (recursive) await chownTree(path, user);
    else await Deno.chown(path, user.uid, user.gid);
  }
  return info;
}

/** A socket directory short enough for `.s.PGSQL.<port>`: `<runDir>/sock`, else one under /tmp. */
async function socketDirFor(runDir: string, user: ServerUser): Promise<string> {
  const preferred = join(runDir, "sock");
  if (byteLength(join(preferred, ".s.PGSQL.65535")) <= MAX_SOCKET_PATH) {
    await Deno.mkdir(preferred, { recursive: true, mode: 0o700 });
    await ensureOwned(preferred, user, false);
    await Deno.chmod(preferred, 0o700);
    return preferred;
  }
  await Deno.mkdir(SHORT_SOCKET_ROOT, { recursive: true, mode: 0o711 });
  const root = await Deno.lstat(SHORT_SOCKET_ROOT);
  if (!root.isDirectory || root.uid !== Deno.uid()) {
    throw new SqlrsError(
      "internal_error",
      `${SHORT_SOCKET_ROOT} is not a directory owned by uid ${Deno.uid()}`,
    );
  }
  // The server user only needs to pass through; nobody else may list or create entries.
  await Deno.chmod(SHORT_SOCKET_ROOT, 0o711);
  const dir = join(SHORT_SOCKET_ROOT, (await sha256Hex(resolve(runDir))).slice(0, 12));
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await ensureOwned(dir, user, false);
  await Deno.chmod(dir, 0o700);
  return dir;
}

function serverEnv(build: PgBuild): Record<string, string> {
  return { PATH: `${build.bindir}:/usr/bin:/bin`, LANG: "C.UTF-8" };
}

// ---------------------------------------------------------------------------------------------
// Start

interface Launch {
  build: PgBuild;
  user: ServerUser;
  dataDir: string;
  logFile: string;
  socketDir: string;
  port: number;
}

function serverArgs(launch: Launch): string[] {
  return [
    "-D",
    launch.dataDir,
    "-p",
    String(launch.port),
    "-k",
    launch.socketDir,
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "fsync=on",
  ];
}

function idOptions(user: ServerUser): { uid?: number; gid?: number } {
  return isEngineUser(user) ? {} : { uid: user.uid, gid: user.gid };
}

/**
 * Launches the postmaster detached and returns its pid. A shell opens the log as the server user and
 * execs postgres (same pid), so even errors printed before logging is set up land in the log.
 * Measured faster than `pg_ctl -W start` (pg_ctl itself runs `postgres -V` first).
 */
function launchServer(launch: Launch): number {
  const postgres = join(launch.build.bindir, "postgres");
  return spawnDetached(
    [
      "/bin/sh",
      "-c",
      'log=$1; shift; exec "$@" >>"$log" 2>&1',
      "sh",
      launch.logFile,
      postgres,
      ...serverArgs(launch),
    ],
    { cwd: "/", env: serverEnv(launch.build), ...idOptions(launch.user) },
  );
}

type WaitOutcome = { ready: true } | { failed: string } | { aborted: true };

/** Polls postmaster.pid until its status line says the server accepts connections. */
async function waitReady(
  dataDir: string,
  pid: number,
  signal: AbortSignal | undefined,
): Promise<WaitOutcome> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (signal?.aborted) return { aborted: true };
    const lines = await readPidFile(dataDir);
    const status = lines?.[7]?.trim();
    if (Number(lines?.[0]) === pid && (status === "ready" || status === "standby")) return { ready: true };
    if (!(await processAlive(pid))) return { failed: "the server exited" };
    if (Date.now() >= deadline) return { failed: `not ready after ${START_TIMEOUT_MS / 1000} s` };
    await sleep(READY_POLL_MS);
  }
}

/** Live processes of a PostgreSQL build (postmaster or backend) whose working directory is `dataDir`. */
async function serverProcessesOf(dataDir: string): Promise<number[]> {
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
async function clearStalePidFile(dataDir: string): Promise<void> {
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

async function startServer(
  build: PgBuild,
  dataDir: string,
  options: StartOptions,
): Promise<ServerHandle> {
  const { signal } = options;
  const what = `Start of PostgreSQL on ${dataDir}`;
  if (signal?.aborted) throw cancelled(signal, what);
  dataDir = resolve(dataDir);
  const runDir = resolve(options.runDir);
  const user = await serverUser();

  const info = await ensureOwned(dataDir, user, true);
  const mode = (info.mode ?? 0) & 0o777;
  if (mode !== 0o700 && mode !== 0o750) await Deno.chmod(dataDir, 0o700);
  await Deno.mkdir(runDir, { recursive: true });
  await ensureOwned(runDir, user, false);
  const logFile = join(runDir, "postgres.log");
  let logStart = 0;
  try {
    // A log left by an earlier start must stay appendable by the server user.
    logStart = (await ensureOwned(logFile, user, false)).size;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (!isEngineUser(user)) {
    await assertUserCanReach(dataDir, user);
    await assertUserCanReach(runDir, user);
  }
  const socketDir = await socketDirFor(runDir, user);
  await clearStalePidFile(dataDir);

  for (let attempt = 1;; attempt++) {
    if (attempt > 1) logStart = await fileSize(logFile);
    if (signal?.aborted) throw cancelled(signal, what);
    const launch: Launch = {
      build,
      user,
      dataDir,
      logFile,
      socketDir,
      port: portForAttempt(attempt, options.port),
    };
    const pid = launchServer(launch);
    const outcome = await waitReady(dataDir, pid, signal);
    if ("ready" in outcome) {
      return {
        runtime: "host",
        runtimeId: String(pid),
        dataDir,
        port: launch.port,
        socketDir,
        user: "postgres",
        password: "",
        logFile,
      };
    }
    // Whatever went wrong, leave no server behind.
    await stopPostmaster(pid);
    if ("aborted" in outcome) throw cancelled(signal as AbortSignal, what);
    const tail = await logTail(logFile, logStart);
    if (attempt < PORT_ATTEMPTS && /could not bind|Address already in use/i.test(tail)) continue;
    throw new SqlrsError(
      "internal_error",
      `PostgreSQL failed to start on ${dataDir} (${outcome.failed}); ${logFile} ends with:\n${tail}`,
      { details: { dataDir, logFile } },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// initdb

async function isEmptyDir(path: string): Promise<boolean> {
  for await (const _ of Deno.readDir(path)) return false;
  return true;
}

async function initDataDir(build: PgBuild, dataDir: string): Promise<void> {
  dataDir = resolve(dataDir);
  let empty: boolean;
  try {
    empty = await isEmptyDir(dataDir);
  } catch (error) {
    throw new SqlrsError("internal_error", `Cannot initialise ${dataDir}: ${messageOf(error)}`);
  }
  if (!empty) {
    throw new SqlrsError("internal_error", `Cannot initialise ${dataDir}: the directory is not empty`);
  }
  const user = await serverUser();
  await ensureOwned(dataDir, user, false);
  await Deno.chmod(dataDir, 0o700);
  if (!isEngineUser(user)) await assertUserCanReach(dataDir, user);

  const argv = [join(build.bindir, "initdb"), "-D", dataDir, ...INITDB_RUN_ARGS];
  const result = await run(argv, { cwd: "/", env: serverEnv(build), ...idOptions(user) });
  if (result.code !== 0) {
    const tail = lastLines(result.stderr.trim() || result.stdout);
    throw new SqlrsError("internal_error", `initdb failed on ${dataDir} (exit ${result.code}):\n${tail}`);
  }
  await appendBaseSettings(dataDir);
}

// ---------------------------------------------------------------------------------------------
// The runtime

function toolEnv(server: ServerHandle): Record<string, string> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
    LANG: "C.UTF-8",
    PGAPPNAME: "sqlrs",
  };
  const home = Deno.env.get("HOME");
  if (home !== undefined) env.HOME = home;
  if (server.socketDir === null) env.PGPASSWORD = server.password;
  return env;
}

/** The tool of a build, found without running anything (spawnTool cannot wait). */
function toolPathSync(image: ResolvedImage, build: PgBuild | undefined, tool: "psql" | "pgbench"): string {
  if (build !== undefined) return tool === "psql" ? build.psql : build.pgbench;
  const dirs = [Deno.env.get("SQLRS_PG_BIN"), `/usr/lib/postgresql/${image.major}/bin`];
  for (const dir of dirs) {
    if (dir === undefined || dir === "") continue;
    try {
      if (Deno.statSync(join(dir, tool)).isFile) return join(dir, tool);
    } catch {
      // not there
    }
  }
  const onPath = findOnPathSync(tool);
  if (onPath === undefined) throw new SqlrsError("unavailable", `${tool} not found: ${INSTALL_HINT}`);
  return onPath;
}

/** Creates the host runtime. Build discovery is cached per instance and redone when a build is missing. */
export function createHostRuntime(): Runtime {
  let builds: Promise<PgBuild[]> | undefined;
  let known: PgBuild[] = [];

  function discover(fresh: boolean): Promise<PgBuild[]> {
    if (builds === undefined || fresh) {
      const found = findPgBuilds();
      builds = found;
      found.then((list) => (known = list), () => {
        if (builds === found) builds = undefined;
      });
    }
    return builds;
  }

  async function buildFor(image: ResolvedImage, exact: boolean): Promise<PgBuild> {
    if (image.runtime !== "host") {
      throw new SqlrsError("internal_error", `The host runtime cannot run a ${image.runtime} image`);
    }
    const build = buildOfImage(await discover(false), image, exact) ??
      buildOfImage(await discover(true), image, exact);
    if (build !== undefined) return build;
    const list = await discover(false);
    throw new SqlrsError(
      "unavailable",
      `${image.resolvedId.replace(/^host:/, "")} is no longer installed here` +
        (list.length === 0 ? `: ${INSTALL_HINT}` : `; found ${describeBuilds(list)}`),
    );
  }

  async function stop(server: ServerHandle): Promise<void> {
    const pid = await runningPostmaster(server.dataDir, Number(server.runtimeId));
    if (pid !== undefined) await stopPostmaster(pid);
    await removeShortSocketDir(server.socketDir);
  }

  return {
    name: "host",

    async resolveImage(imageId) {
      const list = await discover(false);
      let build: PgBuild;
      try {
        build = selectBuild(list, imageId);
      } catch {
        // Perhaps a build installed since the last look.
        build = selectBuild(await discover(true), imageId);
      }
      return await imageOf(build, imageId, await extensionsDigest(build.bindir));
    },

    async initBase(image, dataDir) {
      await initDataDir(await buildFor(image, true), dataDir);
    },

    async start(image, dataDir, options) {
      return await startServer(await buildFor(image, false), dataDir, options);
    },

    stop,

    async isRunning(server) {
      return await isPostmasterOf(Number(server.runtimeId), server.dataDir);
    },

    spawnTool(image, server, tool, args, options: ToolOptions): StreamingChild {
      const build = buildOfImage(known, image, false);
      const connection = [
        "-h",
        server.socketDir ?? "127.0.0.1",
        "-p",
        String(server.port),
        "-U",
        server.user,
      ];
      const database = options.database ?? "postgres";
      const argv = tool === "psql"
        ? [toolPathSync(image, build, tool), ...args, ...connection, "-d", database]
        : [toolPathSync(image, build, tool), ...args, ...connection, database];
      const exec: ExecOptions = { cwd: options.cwd, env: toolEnv(server) };
      if (options.stdin !== undefined) exec.stdin = options.stdin;
      if (options.signal !== undefined) exec.signal = options.signal;
      return spawnStreaming(argv, exec);
    },

    dsn(server, database = "postgres") {
      return loopbackDsn(server, database);
    },

    async stopStrays(root, keep) {
      const rootAbs = resolve(root);
      const rootReal = await realPathOr(root);
      const strays: { pid: number; dataDir: string; socketDir: string | undefined }[] = [];
      for await (const entry of Deno.readDir("/proc")) {
        if (!/^\d+$/.test(entry.name)) continue;
        const pid = Number(entry.name);
        if (pid === Deno.pid) continue;
        const dataDir = await postmasterDataDir(pid);
        if (dataDir === undefined) continue;
        if (!isUnder(resolve(dataDir), rootAbs) && !isUnder(await realPathOr(dataDir), rootReal)) continue;
        if (keep(dataDir) || !(await processAlive(pid))) continue;
        strays.push({ pid, dataDir, socketDir: (await readPidFile(dataDir))?.[4] });
      }
      await Promise.all(strays.map(async (stray) => {
        await stopPostmaster(stray.pid);
        await removeShortSocketDir(stray.socketDir);
      }));
      return strays.map((s) => s.dataDir);
    },

    async probe() {
      try {
        const build = selectBuild(await discover(true), undefined);
        return { available: true, detail: `${build.version} at ${build.bindir}` };
      } catch (error) {
        return { available: false, detail: messageOf(error) };
      }
    },
  };
}
