/**
 * The `docker` and `podman` runtimes: one container per server, from a PostgreSQL image.
 *
 * - **Identity.** An image reference resolves to its registry digest (`docker.io/library/postgres@sha256:…`)
 *   or, for a local image, its image id (`sha256:…`); that is the `resolvedId` every fingerprint
 *   contains, and containers run that exact reference. The store dir is `container/postgres-<major>-<12
 *   hex of the id>-b<base version>`: docker and podman running the same image share bases and states.
 * - **Paths.** PGDATA is bind-mounted at its host path, and so are the server's run dir (its log) and
 *   the directories psql reads (read-only), so no path is rewritten: `-f /abs/file.sql`, the work dir
 *   and `postmaster.pid` mean the same inside and out. The socket dir `<runDir>/sock` is mounted at
 *   `/var/run/postgresql`.
 * - **Users.** The server runs as the owner of the data directory (`--user uid:gid`), which initBase
 *   makes the image's `postgres` user (probed once per image; 999 in the official images).
 * - **Entry point.** sqlrs never uses the image's entry point (the official images' initialises and
 *   chowns): it runs `initdb` and `postgres` itself, so `postgres:NN` and a plain Debian image work alike.
 *   Volumes the image declares get a tmpfs, so that no anonymous volume is left behind.
 * - **Network.** The server listens on the container's network, published on a loopback port
 *   (`-p 127.0.0.1:PORT:5432`) for DSNs; pg_hba (BASE_HBA) asks every address for SCRAM (an instance's
 *   role) and trusts the socket.
 * - **Tools.** psql and pgbench run inside, as the engine's user: `exec` in the server container when the
 *   work dir is mounted there (prepare steps) or the invocation opens no file, else a short-lived tool
 *   container that mounts the work dir and the socket dir. Not the host's psql through the socket dir
 *   (faster: about 40 ms against 85 ms for docker exec, 170 ms for podman exec), because the state key
 *   then holds the image's psql (`toolIdentity`), the same on every machine, and a host needs no psql.
 * - **Readiness** is the status line of `postmaster.pid` (polled every few ms on the host), **stop** a
 *   SIGINT (fast shutdown) and removal, and every container carries `sqlrs.engine=1`, `sqlrs.store` and
 *   `sqlrs.data-dir` labels so that a later engine finds what a killed one left.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { type ExecOptions, runOk } from "../../exec.ts";
import { messageOf, SqlrsError } from "../../../shared/errors.ts";
import type { ResolvedImage, Runtime, ServerHandle, StartOptions, ToolOptions } from "../types.ts";
import { appendBaseSettings, BASE_VERSION, INITDB_RUN_ARGS } from "../host/pg_install.ts";
import { ContainerCli, type ContainerEngine } from "./container_cli.ts";
import {
  cancelled,
  fileSize,
  isUnder,
  lastLines,
  LOG_TAIL_LINES,
  logTail,
  loopbackDsn,
  portForAttempt,
  sha256Hex,
  sleep,
} from "../_support.ts";
import { randomHex } from "../../../shared/random.ts";
import { tokenize } from "../../../shared/tool_options.ts";

/** The image `--image` means when a container runtime gets no image (never, through the selector). */
export const DEFAULT_CONTAINER_IMAGE = "sqlrs-local/postgres:15";
/** Where the socket dir is mounted inside every container (the default of Debian's libpq). */
export const CONTAINER_SOCKET_DIR = "/var/run/postgresql";
const CONTAINER_PORT = 5432;

/** Labels on every container sqlrs creates. */
export const LABELS = {
  engine: "sqlrs.engine",
  store: "sqlrs.store",
  dataDir: "sqlrs.data-dir",
} as const;

const READY_POLL_MS = 3;
/** How often readiness polling also asks the daemon whether the container still runs. */
const STATE_POLL_MS = 250;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_S = 60;
const PORT_ATTEMPTS = 5;

/**
 * Directories that cannot be mounted at their own path: they or a directory under them make the
 * container's system (a mount there would hide the image's programs).
 */
const SYSTEM_DIRS = [
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/usr/bin",
  "/usr/sbin",
  "/usr/lib",
  "/usr/local/bin",
  "/usr/share/postgresql",
  "/etc",
  "/var/lib/postgresql",
  "/run/postgresql",
  "/var/run/postgresql",
];
const VIRTUAL_ROOTS = ["/proc", "/sys", "/dev"];

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported for tests)

/**
 * The directories to bind-mount read-only for `dirs`: absolute, existing, deduplicated (a directory
 * under another one is covered by it). `/` needs no mount (the container has its own root, and
 * tools run there when nothing else is mounted).
 * @throws {SqlrsError} `invalid_argument` for a directory that cannot be mounted at its own path
 */
export function mountPlan(dirs: readonly string[], exists: (path: string) => boolean): string[] {
  const wanted = new Set<string>();
  for (const dir of dirs) {
    const path = resolve(dir);
    if (path === "/" || !exists(path)) continue;
    const system = SYSTEM_DIRS.find((system) => isUnder(system, path));
    if (system !== undefined || VIRTUAL_ROOTS.some((root) => isUnder(path, root))) {
      throw new SqlrsError(
        "invalid_argument",
        `Cannot mount ${path} into a PostgreSQL container at the same path: it would hide ${
          system ?? path
        } of the image; move the scripts (and run sqlrs) elsewhere, or use --image host`,
        { details: { path } },
      );
    }
    wanted.add(path);
  }
  const sorted = [...wanted].sort((a, b) => a.length - b.length);
  return sorted.filter((path, i) => !sorted.slice(0, i).some((parent) => isUnder(path, parent)));
}

/**
 * The immutable identity of an image: a registry digest of it (normalised to a fully qualified
 * repository, so that docker and podman agree), else the local image id.
 */
export function imageIdentity(ref: string, id: string, repoDigests: readonly string[]): string {
  const localId = id.startsWith("sha256:") ? id : `sha256:${id}`;
  const digests = repoDigests
    .map((digest) => {
      const at = digest.lastIndexOf("@");
      return at < 0 ? undefined : { repo: qualifiedRepo(digest.slice(0, at)), digest: digest.slice(at + 1) };
    })
    .filter((d): d is { repo: string; digest: string } =>
      d !== undefined && !d.repo.startsWith("localhost/") && /^sha256:[0-9a-f]{64}$/.test(d.digest)
    );
  if (digests.length === 0) return localId;
  const wanted = qualifiedRepo(ref.replace(/@.*$/, "").replace(/:[^/:]+$/, ""));
  const best = digests.find((d) => d.repo === wanted) ?? digests[0]!;
  return `${best.repo}@${best.digest}`;
}

/** `postgres` → `docker.io/library/postgres`, `me/pg` → `docker.io/me/pg`, `quay.io/x/pg` unchanged. */
export function qualifiedRepo(repo: string): string {
  const first = repo.split("/")[0] ?? "";
  const hasDomain = repo.includes("/") &&
    (first.includes(".") || first.includes(":") || first === "localhost");
  if (hasDomain) return repo;
  return repo.includes("/") ? `docker.io/${repo}` : `docker.io/library/${repo}`;
}

/** A reference with its repository fully qualified: `postgres:17` → `docker.io/library/postgres:17`. */
export function qualifiedRef(ref: string): string {
  const match = /^(.*?)((?::[^/:@]+)?(?:@sha256:[0-9a-f]+)?)$/.exec(ref);
  return `${qualifiedRepo(match?.[1] ?? ref)}${match?.[2] ?? ""}`;
}

/** `container/postgres-<major>-<first 12 hex of the digest or id>-b<BASE_VERSION>`. */
export function containerStoreDir(resolvedId: string, major: number): string {
  const hex = /sha256:([0-9a-f]{12})/.exec(resolvedId)?.[1] ??
    resolvedId.replace(/[^0-9A-Za-z]/g, "").slice(0, 12);
  return `container/postgres-${major}-${hex}-b${BASE_VERSION}`;
}

/** What the probe script printed inside an image: the postgres uid and gid, then tool versions. */
export function parseImageProbe(output: string): {
  uid: number;
  gid: number;
  major: number;
  postgres: string;
  psql: string;
} {
  const lines = output.split("\n").map((line) => line.trim());
  const value = (key: string) =>
    lines.find((line) => line.startsWith(`${key}=`))?.slice(key.length + 1) ?? "";
  const uid = Number(value("uid"));
  const gid = Number(value("gid"));
  const postgres = value("postgres");
  const psql = value("psql");
  const major = Number(/\(PostgreSQL\) (\d+)/.exec(postgres)?.[1]);
  if (!Number.isInteger(uid) || value("uid") === "" || !Number.isInteger(gid) || value("gid") === "") {
    throw new Error("the image has no postgres user");
  }
  if (uid === 0) throw new Error("the image's postgres user is root");
  if (!Number.isInteger(major)) {
    throw new Error(`no postgres server on its PATH (${postgres || "not found"})`);
  }
  if (!/\(PostgreSQL\) \d+/.test(psql)) {
    throw new Error("no psql on its PATH (sqlrs runs psql inside the container)");
  }
  return { uid, gid, major, postgres, psql };
}

/** Options that name a file the tool opens (by name in shared/tool_options.ts). */
const FILE_OPTIONS = new Set(["file", "output", "log-file"]);
/** psql meta-commands that read or write files (relative to the working directory). */
const FILE_META_COMMANDS =
  /(^|[\s;])\\(i|ir|include|include_relative|copy|o|out|w|write|g|gx|s|lo_import|lo_export|cd)(\s|$)/m;

/**
 * Whether a tool invocation may open a file by a relative path (so it must run in the work dir): a
 * file option other than `-` (stdin), or a psql meta-command on files in a `-c` or the script. Any
 * other invocation can run anywhere.
 */
export function readsFiles(
  tool: "psql" | "pgbench",
  args: readonly string[],
  stdin: string | Uint8Array | undefined,
): boolean {
  const opensFile = tokenize(tool, args).some((token) =>
    token.kind === "option" && FILE_OPTIONS.has(token.option.name) && token.value !== null &&
    token.value !== "-"
  );
  if (opensFile) return true;
  if (tool === "pgbench") return false;
  const script = typeof stdin === "string"
    ? stdin
    : stdin === undefined
    ? ""
    : new TextDecoder().decode(stdin);
  return FILE_META_COMMANDS.test(script) || args.some((arg) => FILE_META_COMMANDS.test(arg));
}

const PROBE_SCRIPT = [
  'echo "uid=$(id -u postgres 2>/dev/null)"',
  'echo "gid=$(id -g postgres 2>/dev/null)"',
  'echo "postgres=$(postgres --version 2>/dev/null)"',
  'echo "psql=$(psql --version 2>/dev/null)"',
].join("; ");

// ---------------------------------------------------------------------------------------------
// The runtime

/** Options of {@link createContainerRuntime}. */
export interface ContainerRuntimeOptions {
  /** The store root, recorded in the `sqlrs.store` label of every container. */
  storeRoot: string;
  /** The CLI program (default: `docker` or `podman` from PATH). */
  program?: string;
}

/** What sqlrs knows of a local image, probed once per image id. */
interface ImageInfo {
  /** The reference containers run (`resolvedId`). */
  ref: string;
  uid: number;
  gid: number;
  major: number;
  postgres: string;
  psql: string;
  /** Volumes the image declares, covered by tmpfs mounts. */
  volumes: string[];
}

interface InspectedImage {
  Id: string;
  RepoDigests?: string[] | null;
  Config?: { Volumes?: Record<string, unknown> | null } | null;
}

/**
 * podman on machines whose root lacks CAP_SYS_RESOURCE fails to set its default rlimits ("error
 * setting rlimit type 7"): ask for what the engine itself has (nproc also capped at conmon's 32768).
 */
function podmanUlimits(): string[] {
  let nofile = 1_048_576;
  let nproc = 32_768;
  try {
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const hard = (name: string) => {
      const match = new RegExp(`^${name}\\s+\\S+\\s+(\\d+|unlimited)`, "m").exec(limits);
      return match?.[1] === undefined || match[1] === "unlimited" ? Infinity : Number(match[1]);
    };
    nofile = Math.min(nofile, hard("Max open files"));
    nproc = Math.min(nproc, hard("Max processes"));
  } catch {
    // not Linux: podman's defaults
    return [];
  }
  return ["--ulimit", `nofile=${nofile}:${nofile}`, "--ulimit", `nproc=${nproc}:${nproc}`];
}

/** Creates the docker or podman runtime. */
export function createContainerRuntime(engine: ContainerEngine, options: ContainerRuntimeOptions): Runtime {
  const cli = new ContainerCli(engine, options.program);
  const storeRoot = resolve(options.storeRoot);
  const images = new Map<string, Promise<ImageInfo>>();
  const ulimits = engine === "podman" ? podmanUlimits() : [];
  /** psql and pgbench run as the engine's user, who can read the scripts it was sent (as on the host). */
  const engineUser = `${Deno.uid() ?? 0}:${Deno.gid() ?? 0}`;

  function labels(dataDir: string): string[] {
    return [
      "--label",
      `${LABELS.engine}=1`,
      "--label",
      `${LABELS.store}=${storeRoot}`,
      "--label",
      `${LABELS.dataDir}=${dataDir}`,
    ];
  }

  function volumeMounts(info: ImageInfo, taken: readonly string[]): string[] {
    return info.volumes
      .filter((volume) => !taken.some((path) => path === volume))
      .flatMap((volume) => ["--tmpfs", volume]);
  }

  async function inspectImage(ref: string): Promise<InspectedImage | undefined> {
    const result = await cli.run(["image", "inspect", ref]);
    if (result.code !== 0) return undefined;
    const parsed = JSON.parse(result.stdout) as InspectedImage[];
    return parsed[0];
  }

  async function probeImage(ref: string, inspected: InspectedImage): Promise<ImageInfo> {
    const result = await cli.run([
      "run",
      "--rm",
      "--pull",
      "never",
      "--network",
      "none",
      ...ulimits,
      "--entrypoint",
      "sh",
      ref,
      "-c",
      PROBE_SCRIPT,
    ]);
    try {
      if (result.code !== 0) throw new Error(lastLines(result.stderr || result.stdout, 5));
      const probe = parseImageProbe(result.stdout);
      return { ref, ...probe, volumes: Object.keys(inspected.Config?.Volumes ?? {}) };
    } catch (error) {
      throw new SqlrsError(
        "invalid_argument",
        `Image ${ref} cannot serve as a PostgreSQL image: ${messageOf(error)}`,
        { details: { image: ref } },
      );
    }
  }

  /** The probed facts of a resolved image (probed again after an engine restart). */
  function imageInfo(image: ResolvedImage): Promise<ImageInfo> {
    let info = images.get(image.resolvedId);
    if (info === undefined) {
      info = (async () => {
        const inspected = await inspectImage(image.resolvedId);
        if (inspected === undefined) {
          throw new SqlrsError(
            "unavailable",
            `Image ${image.imageId} (${image.resolvedId}) is no longer in ${engine}: pull or build it again ` +
              `(scripts/build-pg-image.sh --runtime ${engine} ${image.imageId})`,
          );
        }
        return await probeImage(image.resolvedId, inspected);
      })();
      images.set(image.resolvedId, info);
      info.catch(() => images.delete(image.resolvedId));
    }
    return info;
  }

  async function resolveImage(imageId: string | undefined): Promise<ResolvedImage> {
    const ref = imageId ?? DEFAULT_CONTAINER_IMAGE;
    let inspected = await inspectImage(ref);
    if (inspected === undefined) {
      // podman refuses short names without configured search registries; docker means Docker Hub.
      const pullRef = engine === "podman" ? qualifiedRef(ref) : ref;
      const pulled = await cli.run(["pull", "-q", pullRef]);
      if (pulled.code !== 0) {
        throw new SqlrsError(
          "invalid_argument",
          `Image "${ref}" is not in ${engine} and cannot be pulled: ${lastLines(pulled.stderr, 3)}\n` +
            `Build a local PostgreSQL image with scripts/build-pg-image.sh --runtime ${engine} ${ref}, ` +
            `or pull it first (${engine} pull ${ref})`,
          { details: { image: ref } },
        );
      }
      inspected = await inspectImage(pullRef);
      if (inspected === undefined) {
        throw new SqlrsError("internal_error", `${engine} pulled ${pullRef} but cannot inspect it`);
      }
    }
    const resolvedId = imageIdentity(ref, inspected.Id, inspected.RepoDigests ?? []);
    let info = images.get(resolvedId);
    if (info === undefined) {
      info = probeImage(resolvedId, inspected);
      images.set(resolvedId, info);
      info.catch(() => images.delete(resolvedId));
    }
    const probed = await info;
    return {
      runtime: engine,
      imageId: ref,
      resolvedId,
      storeDir: containerStoreDir(resolvedId, probed.major),
      major: probed.major,
      toolIdentity: probed.psql,
    };
  }

  /** Container state: running, exited, or gone (undefined). */
  async function containerState(idOrName: string): Promise<{ id: string; running: boolean } | undefined> {
    const result = await cli.run([
      "container",
      "inspect",
      "--format",
      "{{.Id}} {{.State.Running}}",
      idOrName,
    ]);
    if (result.code !== 0) return undefined;
    const [id, running] = result.stdout.trim().split(" ");
    return { id: id ?? idOrName, running: running === "true" };
  }

  async function removeContainer(idOrName: string, graceful: boolean): Promise<void> {
    let result;
    if (engine === "podman") {
      // podman's rm -f stops with the container's stop signal (SIGINT) first, waiting -t seconds.
      result = await cli.run(["rm", "-f", "-v", "-t", graceful ? String(STOP_TIMEOUT_S) : "0", idOrName]);
    } else {
      if (graceful) await cli.run(["stop", "-t", String(STOP_TIMEOUT_S), idOrName]);
      result = await cli.run(["rm", "-f", "-v", idOrName]);
    }
    if (result.code !== 0 && !/no such container|no container with name or id/i.test(result.stderr)) {
      throw new SqlrsError(
        "internal_error",
        `Cannot remove ${engine} container ${idOrName}: ${lastLines(result.stderr, 5)}`,
      );
    }
  }

  async function readStatusLine(dataDir: string): Promise<string | undefined> {
    try {
      return (await Deno.readTextFile(join(dataDir, "postmaster.pid"))).split("\n")[7]?.trim();
    } catch {
      return undefined;
    }
  }

  /** The owner the server runs as: the data dir's, after giving a root-owned one to the image's postgres. */
  async function serverOwner(dataDir: string, info: ImageInfo): Promise<{ uid: number; gid: number }> {
    const stat = await Deno.stat(dataDir);
    let owner = { uid: stat.uid ?? info.uid, gid: stat.gid ?? info.gid };
    if (owner.uid === 0) {
      owner = { uid: info.uid, gid: info.gid };
      await runOk(["chown", "-R", `${owner.uid}:${owner.gid}`, dataDir]);
    }
    const mode = (stat.mode ?? 0) & 0o777;
    if (mode !== 0o700 && mode !== 0o750) await Deno.chmod(dataDir, 0o700);
    return owner;
  }

  async function ownedDir(path: string, owner: { uid: number; gid: number }, mode: number): Promise<void> {
    await Deno.mkdir(path, { recursive: true });
    const info = await Deno.stat(path);
    if (info.uid !== owner.uid || info.gid !== owner.gid) await Deno.chown(path, owner.uid, owner.gid);
    await Deno.chmod(path, mode);
  }

  /**
   * The server reaches its data and run dirs through the directories of a read-only mount above them
   * (a work dir that contains the store): each must let the server user pass.
   */
  async function assertPassable(
    mounts: readonly string[],
    targets: readonly string[],
    owner: { uid: number; gid: number },
  ): Promise<void> {
    for (const mount of mounts) {
      for (const target of targets) {
        if (target === mount || !isUnder(target, mount)) continue;
        for (let dir = dirname(target); isUnder(dir, mount); dir = dirname(dir)) {
          const info = await Deno.stat(dir);
          const mode = info.mode ?? 0;
          const bit = info.uid === owner.uid ? 0o100 : info.gid === owner.gid ? 0o010 : 0o001;
          if ((mode & bit) === 0) {
            throw new SqlrsError(
              "invalid_argument",
              `${dir} is mounted into the PostgreSQL container with ${mount} (a directory the scripts need), ` +
                `and the image's postgres user (uid ${owner.uid}) cannot pass through it to ${target}: ` +
                `make it searchable (chmod o+x ${dir}) or keep the sqlrs store outside ${mount}`,
              { details: { path: dir } },
            );
          }
          if (dir === mount) break;
        }
      }
    }
  }

  type WaitOutcome = { ready: true } | { failed: string } | { aborted: true };

  async function waitReady(
    id: string,
    dataDir: string,
    signal: AbortSignal | undefined,
  ): Promise<WaitOutcome> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let nextStateCheck = Date.now() + STATE_POLL_MS;
    for (;;) {
      if (signal?.aborted) return { aborted: true };
      const status = await readStatusLine(dataDir);
      if (status === "ready" || status === "standby") return { ready: true };
      if (Date.now() >= nextStateCheck) {
        const state = await containerState(id);
        if (state === undefined || !state.running) return { failed: "the container exited" };
        nextStateCheck = Date.now() + STATE_POLL_MS;
      }
      if (Date.now() >= deadline) return { failed: `not ready after ${START_TIMEOUT_MS / 1000} s` };
      await sleep(READY_POLL_MS);
    }
  }

  function containerName(dataDir: string): Promise<string> {
    return sha256Hex(dataDir).then((hex) => `sqlrs-${hex.slice(0, 16)}`);
  }

  /**
   * Makes the data dir startable: a container of ours still running on it is a conflict; an exited one
   * is removed, with the `postmaster.pid` a killed server left (whose "ready" would fool readiness).
   */
  async function clearPrevious(name: string, dataDir: string): Promise<void> {
    const pidFile = join(dataDir, "postmaster.pid");
    let hasPidFile = true;
    try {
      await Deno.lstat(pidFile);
    } catch {
      hasPidFile = false;
    }
    if (!hasPidFile) return;
    const state = await containerState(name);
    if (state?.running === true) {
      throw new SqlrsError("conflict", `PostgreSQL already runs on ${dataDir} (${engine} container ${name})`);
    }
    if (state !== undefined) await removeContainer(state.id, false);
    await Deno.remove(pidFile).catch(() => {});
  }

  async function start(
    image: ResolvedImage,
    dataDirIn: string,
    options: StartOptions,
  ): Promise<ServerHandle> {
    const { signal } = options;
    const dataDir = resolve(dataDirIn);
    const what = `Start of PostgreSQL on ${dataDir}`;
    if (signal?.aborted) throw cancelled(signal, what);
    const info = await imageInfo(image);
    const runDir = resolve(options.runDir);
    const mounts = mountPlan(options.mounts ?? [], (path) => {
      try {
        return Deno.statSync(path).isDirectory;
      } catch {
        return false;
      }
    });
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
    const name = await containerName(dataDir);
    await clearPrevious(name, dataDir);

    for (let attempt = 1;; attempt++) {
      if (signal?.aborted) throw cancelled(signal, what);
      const port = portForAttempt(attempt, options.port);
      const logStart = await fileSize(logFile);
      const args = [
        "run",
        "-d",
        "--name",
        name,
        ...labels(dataDir),
        "--pull",
        "never",
        "--user",
        `${owner.uid}:${owner.gid}`,
        "--stop-signal",
        "SIGINT",
        "--stop-timeout",
        String(STOP_TIMEOUT_S),
        ...ulimits,
        "-p",
        `127.0.0.1:${port}:${CONTAINER_PORT}`,
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
      ];
      const result = await cli.run(args);
      if (result.code !== 0) {
        const stderr = result.stderr;
        // The daemon may have created the container before failing to publish the port.
        await removeContainer(name, false).catch(() => {});
        if (attempt < PORT_ATTEMPTS && /port is already allocated|address already in use/i.test(stderr)) {
          continue;
        }
        if (attempt < PORT_ATTEMPTS && /already in use/i.test(stderr)) continue;
        throw new SqlrsError(
          "internal_error",
          `${engine} could not start PostgreSQL on ${dataDir}:\n${lastLines(stderr, 10)}`,
          { details: { dataDir } },
        );
      }
      const id = result.stdout.trim().split("\n").pop() as string;
      const outcome = await waitReady(id, dataDir, signal);
      if ("ready" in outcome) {
        const handle: ServerHandle = {
          runtime: engine,
          runtimeId: id,
          dataDir,
          port,
          socketDir,
          user: "postgres",
          password: "",
          logFile,
        };
        if (mounts.length > 0) handle.mounts = mounts;
        return handle;
      }
      // Errors before the log file opened are only in the container's own log.
      let tail = "aborted" in outcome ? "" : await logTail(logFile, logStart);
      if (tail === "" && !("aborted" in outcome)) {
        const logs = await cli.run(["logs", "--tail", String(LOG_TAIL_LINES), id]).catch(() => undefined);
        tail = lastLines(`${logs?.stdout ?? ""}${logs?.stderr ?? ""}`);
      }
      await removeContainer(id, "aborted" in outcome);
      if ("aborted" in outcome) throw cancelled(signal as AbortSignal, what);
      throw new SqlrsError(
        "internal_error",
        `PostgreSQL failed to start in ${engine} on ${dataDir} (${outcome.failed}); ${logFile} ends with:\n${tail}`,
        { details: { dataDir, logFile } },
      );
    }
  }

  async function initBase(image: ResolvedImage, dataDirIn: string): Promise<void> {
    const dataDir = resolve(dataDirIn);
    for await (const _ of Deno.readDir(dataDir)) {
      throw new SqlrsError("internal_error", `Cannot initialise ${dataDir}: the directory is not empty`);
    }
    const info = await imageInfo(image);
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
      ...labels(dataDir),
      "--pull",
      "never",
      "--network",
      "none",
      "--user",
      `${info.uid}:${info.gid}`,
      ...ulimits,
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

  async function stop(server: ServerHandle): Promise<void> {
    try {
      await removeContainer(server.runtimeId, true);
    } catch (error) {
      // A daemon that is down runs no container.
      if (!(error instanceof SqlrsError && error.code === "unavailable")) throw error;
    }
  }

  function spawnTool(
    image: ResolvedImage,
    server: ServerHandle,
    tool: "psql" | "pgbench",
    args: readonly string[],
    options: ToolOptions,
  ) {
    const appName = `sqlrs-${randomHex(8)}`;
    const database = options.database ?? "postgres";
    const connection = ["-h", CONTAINER_SOCKET_DIR, "-p", String(CONTAINER_PORT), "-U", server.user];
    const toolArgs = tool === "psql"
      ? [...args, ...connection, "-d", database]
      : [...args, ...connection, database];
    const cwd = resolve(options.cwd);
    const inServer = cwd === "/" || (server.mounts ?? []).some((mount) => isUnder(cwd, mount));
    let toolMounts: string[] = [];
    if (!inServer && readsFiles(tool, args, options.stdin)) {
      try {
        toolMounts = mountPlan([cwd], (path) => {
          try {
            return Deno.statSync(path).isDirectory;
          } catch {
            return false;
          }
        });
      } catch {
        toolMounts = [];
      }
    }
    const interactive = options.stdin === undefined ? [] : ["-i"];
    let argv: string[];
    let toolContainer: string | undefined;
    if (inServer || toolMounts.length === 0) {
      argv = [
        "exec",
        ...interactive,
        "--user",
        engineUser,
        "-w",
        inServer ? cwd : "/",
        "-e",
        `PGAPPNAME=${appName}`,
        server.runtimeId,
        tool,
        ...toolArgs,
      ];
    } else {
      // The server container cannot see the work dir: a tool container that mounts it, talking to the
      // server through the socket dir.
      toolContainer = appName;
      argv = [
        "run",
        "--rm",
        ...interactive,
        "--name",
        toolContainer,
        ...labels(server.dataDir),
        "--pull",
        "never",
        "--network",
        "none",
        "--user",
        engineUser,
        ...ulimits,
        "-v",
        `${server.socketDir}:${CONTAINER_SOCKET_DIR}`,
        ...toolMounts.flatMap((path) => ["-v", `${path}:${path}:ro`]),
        "-w",
        cwd,
        "-e",
        `PGAPPNAME=${appName}`,
        "--entrypoint",
        tool,
        image.resolvedId,
        ...toolArgs,
      ];
    }
    const exec: ExecOptions = {};
    if (options.stdin !== undefined) exec.stdin = options.stdin;
    if (options.signal !== undefined) exec.signal = options.signal;
    const child = cli.spawn(argv, exec);

    // Killing the CLI does not stop what it runs in the container: end that too.
    let settled = false;
    const cleanup = () => {
      if (settled) return;
      settled = true;
      const done = toolContainer !== undefined ? cli.run(["rm", "-f", toolContainer]) : cli.run([
        "exec",
        server.runtimeId,
        "psql",
        "-X",
        "-q",
        ...connection,
        "-d",
        "postgres",
        "-c",
        `select pg_terminate_backend(pid) from pg_stat_activity where application_name = '${appName}'`,
      ]);
      done.catch(() => {});
    };
    options.signal?.addEventListener("abort", cleanup, { once: true });
    const status = child.status.finally(() => {
      settled = true;
      options.signal?.removeEventListener("abort", cleanup);
    });
    return {
      pid: child.pid,
      stdout: child.stdout,
      stderr: child.stderr,
      status,
      kill(signal?: Deno.Signal) {
        child.kill(signal);
        cleanup();
      },
    };
  }

  async function stopStrays(root: string, keep: (dataDir: string) => boolean): Promise<string[]> {
    const rootAbs = resolve(root);
    let ids: string[];
    try {
      const listed = await cli.run(["ps", "-a", "-q", "--no-trunc", "--filter", `label=${LABELS.engine}=1`]);
      if (listed.code !== 0) return [];
      ids = listed.stdout.split("\n").map((line) => line.trim()).filter((line) => line !== "");
    } catch {
      return []; // no CLI or no daemon: nothing of ours can run
    }
    if (ids.length === 0) return [];
    const inspected = await cli.run([
      "container",
      "inspect",
      "--format",
      `{{.Id}}\t{{index .Config.Labels "${LABELS.dataDir}"}}\t{{.State.Running}}`,
      ...ids,
    ]);
    const strays: Array<{ id: string; dataDir: string; running: boolean }> = [];
    for (const line of inspected.stdout.split("\n")) {
      const [id, dataDir, running] = line.split("\t");
      if (id === undefined || id === "" || dataDir === undefined || dataDir === "") continue;
      if (!isUnder(resolve(dataDir), rootAbs) || keep(dataDir)) continue;
      strays.push({ id, dataDir, running: running === "true" });
    }
    await Promise.all(strays.map((stray) => removeContainer(stray.id, stray.running)));
    return strays.filter((stray) => stray.running).map((stray) => stray.dataDir);
  }

  return {
    name: engine,
    resolveImage,
    initBase,
    start,
    stop,
    async isRunning(server) {
      try {
        const state = await containerState(server.runtimeId);
        return state?.running === true;
      } catch {
        return false;
      }
    },
    spawnTool,
    dsn(server, database = "postgres") {
      return loopbackDsn(server, database);
    },
    stopStrays,
    probe: () => cli.probe(),
  };
}
