/**
 * The sqlrs engine process: reads its flags, takes the store lock, builds the engine
 * (`engine.ts`: wiring and recovery), serves its API on a unix socket or loopback TCP, and shuts down
 * gracefully on SIGTERM/SIGINT or after the idle timeout.
 *
 * Usage: `deno run -A engine/main.ts [--listen unix:PATH | --listen 127.0.0.1:PORT] [--idle-timeout 120s]
 * [--write-engine-json PATH]`; a team engine: `--listen HOST:PORT --tls-cert F --tls-key F --users F`
 * (HTTPS, each request a user's, no engine.json, no idle timeout; see `team/`)
 *
 * @module
 */

import { join } from "node:path";
import { parseDuration } from "../shared/duration.ts";
import { invalidArgument, messageOf, SqlrsError } from "../shared/errors.ts";
import { engineSocketPath, sqlrsPaths } from "../shared/paths.ts";
import { snapshotSettingsList } from "../shared/snapshot_backends.ts";
import { VERSION } from "../shared/version.ts";
import { createEngine } from "./engine.ts";
import { removeEngineFile, writeEngineFile } from "./lifecycle/engine_file.ts";
import { acquireStoreLock } from "./lifecycle/store_lock.ts";
import { tightenStore } from "./lifecycle/store_permissions.ts";
import { createRuntimes } from "./runtime/registry.ts";
import { openTeam, type TeamOptions } from "./team/serve.ts";
import { isStateFSSetting, probeStateFSKind } from "./statefs/select.ts";
import { ensureStoreImage, type StoreImage } from "./store_image.ts";

/** Where the engine listens. */
export type ListenAddress = { transport: "unix"; path: string } | {
  transport: "tcp";
  hostname: string;
  port: number;
};

/** The engine's command-line options. */
export interface EngineOptions {
  listen: ListenAddress;
  idleTimeoutMs: number;
  engineFile: string;
  /**
   * `--probe-snapshot KIND`: print whether that snapshot backend can work on the store (JSON
   * `{available, detail}`) and exit, touching nothing; how `sqlrs init` checks a backend before it
   * writes it (the CLI itself never looks at the store).
   */
  probeSnapshot?: string;
  /** A team engine: HTTPS with this certificate and key, requests authenticated by the users file. */
  team?: TeamOptions;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/**
 * Parses `unix:PATH` or `HOST:PORT`; only loopback hosts are accepted, unless `team` (TLS and users).
 * @throws {SqlrsError} `invalid_argument` for anything else
 */
export function parseListen(value: string, team = false): ListenAddress {
  if (value.startsWith("unix:")) {
    const path = value.slice("unix:".length).replace(/^\/\/(?=\/)/, "");
    if (!path.startsWith("/")) {
      throw new SqlrsError(
        "invalid_argument",
        `Invalid --listen "${value}": the socket path must be absolute`,
      );
    }
    return { transport: "unix", path };
  }
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value);
  if (match === null) {
    throw new SqlrsError(
      "invalid_argument",
      `Invalid --listen "${value}": expected unix:/path/engine.sock or 127.0.0.1:PORT`,
    );
  }
  const hostname = match[1] as string;
  if (!LOOPBACK.has(hostname) && !team) {
    throw new SqlrsError(
      "invalid_argument",
      `Refusing to listen on ${hostname}: the engine serves only loopback (127.0.0.1, ::1) or a unix socket, ` +
        `or a team with --tls-cert, --tls-key and --users`,
    );
  }
  return { transport: "tcp", hostname: hostname.replace(/^\[|\]$/g, ""), port: Number(match[2]) };
}

function openLog(logDir: string): (line: string) => void {
  Deno.mkdirSync(logDir, { recursive: true });
  const file = Deno.openSync(join(logDir, "engine.log"), { append: true, create: true, mode: 0o600 });
  const encoder = new TextEncoder();
  return (line) => {
    try {
      file.writeSync(encoder.encode(`${new Date().toISOString()} [${Deno.pid}] ${line}\n`));
    } catch {
      // Logging must never take the engine down.
    }
  };
}

/** `SQLRS_STORE_IMAGE` (+ `SQLRS_STORE_IMAGE_SIZE` bytes): the store lives on this btrfs loop image. */
function storeImageFromEnv(): StoreImage | undefined {
  const path = Deno.env.get("SQLRS_STORE_IMAGE");
  if (path === undefined || path === "") return undefined;
  const size = Number(Deno.env.get("SQLRS_STORE_IMAGE_SIZE") ?? 100 * 1024 ** 3);
  return { path, sizeBytes: size };
}

/** Parses the engine's argv. */
export async function parseEngineArgs(args: readonly string[]): Promise<EngineOptions> {
  const paths = sqlrsPaths();
  let listen: string | undefined;
  let idle = "120s";
  let engineFile = paths.engineFile;
  let probeSnapshot: string | undefined;
  const team: Partial<TeamOptions> = {};
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = (args[i] as string).split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => inline ?? args[++i] ?? "";
    if (name === "--listen") listen = value();
    else if (name === "--idle-timeout") idle = value();
    else if (name === "--write-engine-json") engineFile = value();
    else if (name === "--probe-snapshot") probeSnapshot = value();
    else if (name === "--tls-cert") team.tlsCert = value();
    else if (name === "--tls-key") team.tlsKey = value();
    else if (name === "--users") team.users = value();
    else throw new SqlrsError("invalid_argument", `Unknown engine option "${name}"`);
  }
  let idleTimeoutMs: number;
  try {
    idleTimeoutMs = parseDuration(idle);
  } catch (error) {
    throw new SqlrsError("invalid_argument", `Invalid --idle-timeout: ${messageOf(error)}`);
  }
  const teamOptions = teamOptionsOf(team);
  const address = parseListen(listen ?? `unix:${await engineSocketPath(paths)}`, teamOptions !== undefined);
  if (teamOptions !== undefined && address.transport === "unix") {
    throw invalidArgument("A team engine listens on HOST:PORT (HTTPS), not on a unix socket");
  }
  return {
    listen: address,
    idleTimeoutMs,
    engineFile,
    ...(probeSnapshot === undefined ? {} : { probeSnapshot }),
    ...(teamOptions === undefined ? {} : { team: teamOptions }),
  };
}

/** The team options, all three or none. */
function teamOptionsOf(team: Partial<TeamOptions>): TeamOptions | undefined {
  const { tlsCert, tlsKey, users } = team;
  if (tlsCert === undefined && tlsKey === undefined && users === undefined) return undefined;
  if (!tlsCert || !tlsKey || !users) {
    throw invalidArgument("A team engine needs all of --tls-cert FILE, --tls-key FILE and --users FILE");
  }
  return { tlsCert, tlsKey, users };
}

async function probeSnapshot(kind: string): Promise<number> {
  if (!isStateFSSetting(kind)) {
    throw invalidArgument(`Invalid --probe-snapshot "${kind}": use ${snapshotSettingsList()}`);
  }
  const probe = await probeStateFSKind(kind, sqlrsPaths().storeRoot);
  console.log(JSON.stringify(probe));
  return 0;
}

/** Runs the engine until it is told to stop or idles out; resolves with the process exit code. */
export async function runEngine(options: EngineOptions): Promise<number> {
  if (options.probeSnapshot !== undefined) return await probeSnapshot(options.probeSnapshot);
  const team = options.team === undefined ? undefined : await openTeam(options.team);
  const paths = sqlrsPaths();
  await Deno.mkdir(paths.stateDir, { recursive: true, mode: 0o711 });
  const log = openLog(paths.logDir);
  const image = storeImageFromEnv();
  if (image !== undefined) {
    log(`store: ${await ensureStoreImage(image, paths.storeRoot)} ${image.path} at ${paths.storeRoot}`);
  }
  // The store root must be reachable (not readable) by the unprivileged user PostgreSQL runs as.
  await Deno.mkdir(paths.storeRoot, { recursive: true, mode: 0o711 });
  await tightenStore(paths);
  const lock = await acquireStoreLock(paths.storeRoot);
  const engine = await createEngine({
    paths,
    runtimes: createRuntimes({ storeRoot: paths.storeRoot }),
    snapshotOverride: Deno.env.get("SQLRS_SNAPSHOT_BACKEND"),
    log,
    onShutdownRequest: () => void shutdown("requested by a client"),
    team,
  });

  let resolveStopped!: (code: number) => void;
  const stopped = new Promise<number>((resolve) => (resolveStopped = resolve));
  let server: Deno.HttpServer | undefined;
  let shuttingDown = false;
  const timers: ReturnType<typeof setInterval>[] = [];

  async function shutdown(why: string): Promise<void> {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`shutting down: ${why}`);
    for (const timer of timers) clearInterval(timer);
    removeEngineFile(options.engineFile, engine.health.instanceId);
    await engine.stop();
    await server?.shutdown();
    // The socket goes before the store lock: the next engine may start as soon as the lock is free,
    // and it listens on the same path.
    if (options.listen.transport === "unix") await Deno.remove(options.listen.path).catch(() => {});
    engine.close();
    lock.close();
    resolveStopped(0);
  }

  const onListen = (addr: Deno.Addr) => {
    const endpoint = addr.transport === "unix"
      ? `unix://${(addr as Deno.UnixAddr).path}`
      : `${team === undefined ? "http" : "https"}://${(addr as Deno.NetAddr).hostname}:${
        (addr as Deno.NetAddr).port
      }`;
    // A team engine is found through profiles, not engine.json, whose token would bypass its users.
    if (team !== undefined) {
      log(`serving a team on ${endpoint}`);
      console.error(`sqlrs engine: serving a team on ${endpoint}`);
      return;
    }
    writeEngineFile(options.engineFile, {
      endpoint,
      pid: Deno.pid,
      startedAt: engine.startedAt,
      authToken: engine.token,
      version: VERSION,
      instanceId: engine.health.instanceId,
    })
      .then(() => log(`listening on ${endpoint}`))
      .catch((error) => {
        log(`cannot write ${options.engineFile}: ${messageOf(error)}`);
        void shutdown("engine.json could not be written");
      });
  };
  if (options.listen.transport === "unix") {
    await Deno.mkdir(join(options.listen.path, ".."), { recursive: true });
    await Deno.remove(options.listen.path).catch(() => {});
    server = Deno.serve({ path: options.listen.path, transport: "unix", onListen }, engine.fetch);
  } else {
    const tls = team === undefined ? {} : { cert: team.cert, key: team.key };
    server = Deno.serve(
      { hostname: options.listen.hostname, port: options.listen.port, onListen, ...tls },
      engine.fetch,
    );
  }

  await engine.start();
  let reaping = false;
  timers.push(setInterval(() => {
    if (reaping) return;
    reaping = true;
    engine.sweep().finally(() => (reaping = false));
  }, 1000));
  // A team engine serves until it is stopped.
  if (team === undefined) {
    timers.push(setInterval(() => {
      if (engine.activity.idleMs() >= options.idleTimeoutMs) {
        void shutdown(`idle for ${options.idleTimeoutMs} ms`);
      }
    }, Math.min(1000, Math.max(50, options.idleTimeoutMs / 4))));
  }
  const onSignal = (signal: Deno.Signal) => () => void shutdown(signal);
  const handlers: Array<[Deno.Signal, () => void]> = [["SIGTERM", onSignal("SIGTERM")], [
    "SIGINT",
    onSignal("SIGINT"),
  ]];
  for (const [signal, fn] of handlers) Deno.addSignalListener(signal, fn);

  const code = await stopped;
  for (const [signal, fn] of handlers) Deno.removeSignalListener(signal, fn);
  return code;
}

if (import.meta.main) {
  try {
    Deno.exit(await runEngine(await parseEngineArgs(Deno.args)));
  } catch (error) {
    console.error(`sqlrs engine: ${messageOf(error)}`);
    Deno.exit(error instanceof SqlrsError && error.code === "invalid_argument" ? 2 : 1);
  }
}
