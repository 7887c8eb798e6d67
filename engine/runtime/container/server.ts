/**
 * The PostgreSQL server of a container runtime: initdb into a base, start on a data dir (readiness,
 * port, clean-up of what a killed engine left), stop.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { runOk } from "../../exec.ts";
import { SqlrsError } from "../../../shared/errors.ts";
import { cancelled, fileSize, lastLines, LOG_TAIL_LINES, logTail } from "../_support.ts";
import {
  acceptsConnections,
  assertInitdbTarget,
  durabilityArgs,
  fixDataDirMode,
  PORT_TAKEN,
  startFailed,
  startOnFreePort,
  SUPERUSER,
  waitReady,
} from "../_pg_server.ts";
import { LOOPBACK } from "../address.ts";
import type { ResolvedImage, ServerHandle, StartOptions } from "../types.ts";
import { appendBaseSettings, INITDB_RUN_ARGS } from "../host/pg_install.ts";
import { CONTAINER_PORT, CONTAINER_SOCKET_DIR, STOP_TIMEOUT_S } from "./containers.ts";
import type { ImageInfo } from "./images.ts";
import { assertPassable, isDirectory, mountPlan } from "./mounts.ts";
import type { ContainerParts } from "./parts.ts";

/** How often readiness polling also asks the daemon whether the container still runs. */
const STATE_POLL_MS = 250;
const START_TIMEOUT_MS = 60_000;

type Owner = { uid: number; gid: number };

/** Runs initdb in a container of the image into the empty `dataDir`, owned by the image's postgres user. */
export async function initContainerBase(
  parts: ContainerParts,
  image: ResolvedImage,
  dataDirIn: string,
): Promise<void> {
  const { cli, flavor: { engine } } = parts;
  const dataDir = resolve(dataDirIn);
  await assertInitdbTarget(dataDir);
  const info = await parts.images.info(image);
  try {
    await Deno.chown(dataDir, info.uid, info.gid);
  } catch (error) {
    if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
    throw new SqlrsError(
      "unavailable",
      `The ${engine} runtime needs the sqlrs engine to run as root: data directories belong to the ` +
        `image's postgres user (uid ${info.uid}). Run sqlrs as root, or use --image host`,
    );
  }
  await Deno.chmod(dataDir, 0o700);
  const result = await cli.run([
    "run",
    "--rm",
    "-i",
    ...parts.containers.labels(dataDir),
    "--pull",
    "never",
    "--network",
    "none",
    "--user",
    `${info.uid}:${info.gid}`,
    ...parts.flavor.runOptions,
    "-v",
    `${dataDir}:${dataDir}`,
    "--entrypoint",
    "initdb",
    info.ref,
    "-D",
    dataDir,
    ...INITDB_RUN_ARGS,
  ]);
  if (result.code !== 0) {
    throw new SqlrsError(
      "internal_error",
      `initdb in ${engine} (${image.imageId}) failed on ${dataDir} (exit ${result.code}):\n${
        lastLines(result.stderr.trim() || result.stdout)
      }`,
    );
  }
  await appendBaseSettings(dataDir);
}

/** Starts a server container on the stopped data dir `dataDirIn` and resolves once it accepts connections. */
export async function startContainerServer(
  parts: ContainerParts,
  image: ResolvedImage,
  dataDirIn: string,
  options: StartOptions,
): Promise<ServerHandle> {
  const { cli, containers, flavor: { engine } } = parts;
  const { signal } = options;
  const dataDir = resolve(dataDirIn);
  const what = `Start of PostgreSQL on ${dataDir}`;
  if (signal?.aborted) throw cancelled(signal, what);
  const info = await parts.images.info(image);
  const runDir = resolve(options.runDir);
  const mounts = mountPlan(options.mounts ?? [], isDirectory);
  const owner = await serverOwner(dataDir, info);
  await ownedDir(runDir, owner, 0o700);
  const socketDir = join(runDir, "sock");
  // Tools run as the engine's user (to read the user's scripts), so they must reach the socket;
  // the 0700 run dir still closes it to the host's other users.
  await ownedDir(socketDir, owner, 0o711);
  for await (const entry of Deno.readDir(socketDir)) {
    if (entry.name.startsWith(".s.PGSQL.")) await Deno.remove(join(socketDir, entry.name)).catch(() => {});
  }
  const logFile = join(runDir, "postgres.log");
  try {
    const log = await Deno.stat(logFile);
    if (log.uid !== owner.uid) await Deno.chown(logFile, owner.uid, owner.gid);
  } catch {
    // created by the server
  }
  await assertPassable(mounts, [dataDir, runDir], owner);
  const name = containers.nameFor(dataDir);
  await clearPrevious(parts, name, dataDir);

  return await startOnFreePort(options.port, { signal, what }, async (port, mayRetry) => {
    const logStart = await fileSize(logFile);
    const result = await cli.run([
      "run",
      "-d",
      "--name",
      name,
      ...containers.labels(dataDir),
      "--pull",
      "never",
      "--user",
      `${owner.uid}:${owner.gid}`,
      "--stop-signal",
      "SIGINT",
      "--stop-timeout",
      String(STOP_TIMEOUT_S),
      ...parts.flavor.runOptions,
      "-p",
      `${LOOPBACK}:${port}:${CONTAINER_PORT}`,
      "-v",
      `${dataDir}:${dataDir}`,
      "-v",
      `${runDir}:${runDir}`,
      "-v",
      `${socketDir}:${CONTAINER_SOCKET_DIR}`,
      ...mounts.flatMap((path) => ["-v", `${path}:${path}:ro`]),
      ...volumeMounts(info, [dataDir, runDir, CONTAINER_SOCKET_DIR, ...mounts]),
      "--entrypoint",
      "sh",
      info.ref,
      "-c",
      'log=$0; exec postgres "$@" >>"$log" 2>&1',
      logFile,
      "-D",
      dataDir,
      "-p",
      String(CONTAINER_PORT),
      "-k",
      CONTAINER_SOCKET_DIR,
      "-c",
      "listen_addresses=*",
      ...durabilityArgs(options.scratch),
    ]);
    if (result.code !== 0) {
      // The daemon may have created the container before failing to publish the port.
      await containers.remove(name, false).catch(() => {});
      if (mayRetry && /port is already allocated|already in use/i.test(result.stderr)) return PORT_TAKEN;
      throw new SqlrsError(
        "internal_error",
        `${engine} could not start PostgreSQL on ${dataDir}:\n${lastLines(result.stderr, 10)}`,
        { details: { dataDir } },
      );
    }
    const id = result.stdout.trim().split("\n").pop() as string;
    const outcome = await waitReady(dataDir, {
      signal,
      timeoutMs: START_TIMEOUT_MS,
      isReady: acceptsConnections,
      gone: async () => (await containers.state(id))?.running === true ? undefined : "the container exited",
      goneEveryMs: STATE_POLL_MS,
    });
    if ("ready" in outcome) {
      const handle: ServerHandle = {
        runtime: engine,
        runtimeId: id,
        dataDir,
        host: LOOPBACK,
        port,
        socketDir,
        user: SUPERUSER,
        password: "",
        logFile,
      };
      if (mounts.length > 0) handle.mounts = mounts;
      return handle;
    }
    if ("aborted" in outcome) {
      await containers.remove(id, true);
      throw cancelled(signal as AbortSignal, what);
    }
    // Errors before the log file opened are only in the container's own log.
    let tail = await logTail(logFile, logStart);
    if (tail === "") {
      const logs = await cli.run(["logs", "--tail", String(LOG_TAIL_LINES), id]).catch(() => undefined);
      tail = lastLines(`${logs?.stdout ?? ""}${logs?.stderr ?? ""}`);
    }
    await containers.remove(id, false);
    throw startFailed(` in ${engine}`, dataDir, outcome.failed, logFile, tail);
  });
}

/** Stops a server container (fast shutdown) and removes it. Idempotent; a daemon that is down runs nothing. */
export async function stopContainerServer(parts: ContainerParts, server: ServerHandle): Promise<void> {
  try {
    await parts.containers.remove(server.runtimeId, true);
  } catch (error) {
    if (!(error instanceof SqlrsError && error.code === "unavailable")) throw error;
  }
}

/** Volumes the image declares, as tmpfs mounts (no anonymous volume is left behind), except those taken. */
function volumeMounts(info: ImageInfo, taken: readonly string[]): string[] {
  return info.volumes
    .filter((volume) => !taken.some((path) => path === volume))
    .flatMap((volume) => ["--tmpfs", volume]);
}

/** The owner the server runs as: the data dir's, after giving a root-owned one to the image's postgres. */
async function serverOwner(dataDir: string, info: ImageInfo): Promise<Owner> {
  const stat = await Deno.stat(dataDir);
  let owner = { uid: stat.uid ?? info.uid, gid: stat.gid ?? info.gid };
  if (owner.uid === 0) {
    owner = { uid: info.uid, gid: info.gid };
    await runOk(["chown", "-R", `${owner.uid}:${owner.gid}`, dataDir]);
  }
  await fixDataDirMode(dataDir, stat);
  return owner;
}

async function ownedDir(path: string, owner: Owner, mode: number): Promise<void> {
  await Deno.mkdir(path, { recursive: true });
  const info = await Deno.stat(path);
  if (info.uid !== owner.uid || info.gid !== owner.gid) await Deno.chown(path, owner.uid, owner.gid);
  await Deno.chmod(path, mode);
}

/**
 * Makes the data dir startable: a container of ours still running on it is a conflict; an exited one
 * is removed, with the `postmaster.pid` a killed server left (whose "ready" would fool readiness).
 */
async function clearPrevious(parts: ContainerParts, name: string, dataDir: string): Promise<void> {
  const pidFile = join(dataDir, "postmaster.pid");
  try {
    await Deno.lstat(pidFile);
  } catch {
    return;
  }
  const state = await parts.containers.state(name);
  if (state?.running === true) {
    throw new SqlrsError(
      "conflict",
      `PostgreSQL already runs on ${dataDir} (${parts.flavor.engine} container ${name})`,
    );
  }
  if (state !== undefined) await parts.containers.remove(state.id, false);
  await Deno.remove(pidFile).catch(() => {});
}
