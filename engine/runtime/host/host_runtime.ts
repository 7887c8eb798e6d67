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

import { dirname, join, resolve } from "node:path";
import { type ExecOptions, run, spawnDetached, spawnStreaming, type StreamingChild } from "../../exec.ts";
import { messageOf, SqlrsError } from "../../../shared/errors.ts";
import type {
  ResolvedImage,
  Runtime,
  RuntimeRegistration,
  ServerHandle,
  StartOptions,
  ToolOptions,
} from "../types.ts";
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
  clearStalePidFile,
  isPostmasterOf,
  postmasterDataDir,
  processAlive,
  realPathOr,
  runningPostmaster,
  stopPostmaster,
} from "./postmaster.ts";
import { cancelled, fileSize, isUnder, lastLines, logTail, sha256Hex } from "../_support.ts";
import {
  acceptsConnections,
  assertInitdbTarget,
  collectOutput,
  connectionArgs,
  durabilityArgs,
  fixDataDirMode,
  PORT_TAKEN,
  readPidFile,
  serverDsn,
  startFailed,
  startOnFreePort,
  SUPERUSER,
  waitReady,
} from "../_pg_server.ts";
import { LOOPBACK, serverAddress } from "../address.ts";

const START_TIMEOUT_MS = 30_000;
/** Linux's sun_path holds 108 bytes; stay well below. */
const MAX_SOCKET_PATH = 100;
const SHORT_SOCKET_ROOT = `/tmp/sqlrs-sock-${Deno.uid()}`;

function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
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
  const dir = join(SHORT_SOCKET_ROOT, sha256Hex(resolve(runDir)).slice(0, 12));
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
  scratch: boolean | undefined;
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
    `listen_addresses=${LOOPBACK}`,
    ...durabilityArgs(launch.scratch),
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

  await fixDataDirMode(dataDir, await ensureOwned(dataDir, user, true));
  await Deno.mkdir(runDir, { recursive: true });
  await ensureOwned(runDir, user, false);
  const logFile = join(runDir, "postgres.log");
  try {
    // A log left by an earlier start must stay appendable by the server user.
    await ensureOwned(logFile, user, false);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (!isEngineUser(user)) {
    await assertUserCanReach(dataDir, user);
    await assertUserCanReach(runDir, user);
  }
  const socketDir = await socketDirFor(runDir, user);
  await clearStalePidFile(dataDir);

  return await startOnFreePort(options.port, { signal, what }, async (port, mayRetry) => {
    const logStart = await fileSize(logFile);
    const pid = launchServer({ build, user, dataDir, logFile, socketDir, port, scratch: options.scratch });
    const outcome = await waitReady(dataDir, {
      signal,
      timeoutMs: START_TIMEOUT_MS,
      isReady: (pidFile) => Number(pidFile?.[0]) === pid && acceptsConnections(pidFile),
      gone: async () => (await processAlive(pid)) ? undefined : "the server exited",
    });
    if ("ready" in outcome) {
      return {
        runtime: "host",
        runtimeId: String(pid),
        dataDir,
        host: LOOPBACK,
        port,
        socketDir,
        user: SUPERUSER,
        password: "",
        logFile,
      };
    }
    // Whatever went wrong, leave no server behind.
    await stopPostmaster(pid);
    if ("aborted" in outcome) throw cancelled(signal as AbortSignal, what);
    const tail = await logTail(logFile, logStart);
    if (mayRetry && /could not bind|Address already in use/i.test(tail)) return PORT_TAKEN;
    throw startFailed("", dataDir, outcome.failed, logFile, tail);
  });
}

// ---------------------------------------------------------------------------------------------
// initdb

async function initDataDir(build: PgBuild, dataDir: string): Promise<void> {
  dataDir = resolve(dataDir);
  await assertInitdbTarget(dataDir);
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

  function spawnTool(
    image: ResolvedImage,
    server: ServerHandle,
    tool: "psql" | "pgbench",
    args: readonly string[],
    options: ToolOptions,
  ): StreamingChild {
    const build = buildOfImage(known, image, false);
    const target = { host: server.socketDir ?? serverAddress(server), port: server.port, user: server.user };
    const argv = [
      toolPathSync(image, build, tool),
      ...args,
      ...connectionArgs(tool, target, options.database ?? "postgres"),
    ];
    const exec: ExecOptions = { cwd: options.cwd, env: toolEnv(server) };
    if (options.stdin !== undefined) exec.stdin = options.stdin;
    if (options.signal !== undefined) exec.signal = options.signal;
    return spawnStreaming(argv, exec);
  }

  async function stop(server: ServerHandle, options?: { discard?: boolean }): Promise<void> {
    const pid = await runningPostmaster(server.dataDir, Number(server.runtimeId));
    if (pid !== undefined) await stopPostmaster(pid, options?.discard === true);
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
      return imageOf(build, imageId, await extensionsDigest(build.bindir));
    },

    async initBase(image, volume) {
      await initDataDir(await buildFor(image, true), volume.path);
    },

    async start(image, volume, options) {
      return await startServer(await buildFor(image, false), volume.path, options);
    },

    stop,

    async isRunning(server) {
      return await isPostmasterOf(Number(server.runtimeId), server.dataDir);
    },

    spawnTool,

    async exec(image, server, tool, args, options) {
      return await collectOutput(spawnTool(image, server, tool, args, options));
    },

    dsn: serverDsn,

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

/** The host runtime's registration. */
export const hostRuntime: RuntimeRegistration = { name: "host", create: () => createHostRuntime() };
