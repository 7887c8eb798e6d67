/**
 * Finds the PostgreSQL builds installed on this machine and resolves `host` image references to one.
 *
 * Builds come from, in this order of preference: `SQLRS_PG_BIN` (a bindir), `pg_config --bindir`,
 * and every `/usr/lib/postgresql/<major>/bin`. A build is identified by the full version string of
 * its `postgres` binary, so that a minor upgrade makes a new base and new states.
 *
 * @module
 */

import { join } from "node:path";
import { run } from "../../exec.ts";
import { messageOf, SqlrsError } from "../../../shared/errors.ts";
import { sha256Hex } from "../_support.ts";
import type { ResolvedImage } from "../types.ts";

/** Where a build was found. */
export type PgBuildSource = "SQLRS_PG_BIN" | "pg_config" | "distribution";

/** One PostgreSQL installation (a bindir with `postgres`, `initdb` and `pg_ctl`). */
export interface PgBuild {
  /** The bindir, with symlinks resolved. */
  bindir: string;
  source: PgBuildSource;
  major: number;
  /** The server's version, e.g. `PostgreSQL 15.18 (Debian 15.18-0+deb12u1)`. */
  version: string;
  /** psql from the same bindir, else from PATH. */
  psql: string;
  /** `psql --version`, e.g. `psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`. */
  psqlVersion: string;
  /** pgbench from the same bindir, else from PATH. */
  pgbench: string;
}

/**
 * The initdb options every base is made with (besides `-D`); part of the store dir. No password: the
 * superuser `postgres` logs in only through the server's private socket (see {@link BASE_HBA}).
 */
export const INITDB_ARGS: readonly string[] = [
  "-U",
  "postgres",
  "-E",
  "UTF8",
  "--locale=C",
  "--auth-local=trust",
  // Replaced by BASE_HBA; initdb refuses SCRAM without a superuser password.
  "--auth-host=reject",
  // 1 MB WAL segments instead of 16 MB: a state carries its current segment, so with the default
  // every state of a long series held 16-32 MB of WAL however small its step (PostgreSQL 11+).
  "--wal-segsize=1",
];

/**
 * Server settings every base is made with, appended to its postgresql.conf: a clean stop leaves only
 * the WAL segment holding the shutdown checkpoint. `wal_recycle=off` removes old segments instead of
 * renaming them into future ones (which a state would carry as dead bytes; PostgreSQL 12+), and
 * `min_wal_size` keeps the fewest segments allowed (two).
 */
export const BASE_SETTINGS: readonly string[] = ["wal_recycle = off", "min_wal_size = 2MB"];

/**
 * The pg_hba.conf of every base. The unix socket, whose directory only the server user (and root) can
 * enter, is trusted: the engine's own tools use it. Every TCP client, from any address (a container's
 * clients come through its runtime's port mapping, not from loopback), must give a SCRAM password, and
 * only the roles the engine makes per instance have one: `postgres` has none, so no password works for
 * it over TCP.
 */
export const BASE_HBA: readonly string[] = [
  "local all all trust",
  "local replication all trust",
  "host all all 0.0.0.0/0 scram-sha-256",
  "host all all ::/0 scram-sha-256",
];

/**
 * Applies {@link BASE_SETTINGS} (appended to postgresql.conf) and {@link BASE_HBA} (pg_hba.conf's whole
 * content) to a fresh base; the files' owner stays the server's.
 */
export async function appendBaseSettings(dataDir: string): Promise<void> {
  await Deno.writeTextFile(
    join(dataDir, "postgresql.conf"),
    `\n# sqlrs: small WAL, so that a state costs about what its step changed\n${BASE_SETTINGS.join("\n")}\n`,
    { append: true },
  );
  await Deno.writeTextFile(
    join(dataDir, "pg_hba.conf"),
    `# sqlrs: the private socket is trusted; TCP needs an instance's role and password\n${
      BASE_HBA.join("\n")
    }\n`,
  );
}

/**
 * How `initBase` runs initdb: {@link INITDB_ARGS} and `--no-sync`. initdb's fsync of each of its ~1,000
 * files costs 0.2-0.4 s on ext4; the caller flushes the new base with one syncfs instead (StateFS.flush).
 * Not part of the store dir: a base's content does not depend on it.
 */
export const INITDB_RUN_ARGS: readonly string[] = [...INITDB_ARGS, "--no-sync"];

/**
 * Bump when a base made by `initBase` changes in a way {@link INITDB_ARGS}, {@link BASE_SETTINGS} and
 * {@link BASE_HBA} do not show. Part of every store dir (host and containers), so that a changed base
 * is made anew instead of reused. v3: no superuser password, TCP only for per-instance roles.
 */
export const BASE_VERSION = 3;
const INITDB_OPTIONS_VERSION = `${BASE_VERSION} ${INITDB_ARGS.join(" ")} ${BASE_SETTINGS.join(" ")} ${
  BASE_HBA.join(" ")
}`;

/** The message of the error raised when no PostgreSQL is installed. */
export const INSTALL_HINT =
  'PostgreSQL server binaries not found: install them with "sudo apt-get install -y postgresql" or set SQLRS_PG_BIN';

const DISTRIBUTION_ROOT = "/usr/lib/postgresql";
const SERVER_PROGRAMS = ["postgres", "initdb", "pg_ctl"] as const;

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && info.mode !== null && (info.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

function isExecutableFileSync(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && info.mode !== null && (info.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The first `program` on PATH, synchronously (tools are looked up where no await is possible). */
export function findOnPathSync(program: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin").split(":")) {
    if (dir === "") continue;
    const candidate = join(dir, program);
    if (isExecutableFileSync(candidate)) return candidate;
  }
  return undefined;
}

/** Parses `postgres (PostgreSQL) 15.18 (Debian ...)` into `PostgreSQL 15.18 (Debian ...)` and 15. */
export function parseServerVersion(output: string): { version: string; major: number } | undefined {
  const match = /^\S+ \(PostgreSQL\) ((\d+)\S*.*)$/.exec(output.trim().split("\n")[0] ?? "");
  if (match === null || match[1] === undefined || match[2] === undefined) return undefined;
  return { version: `PostgreSQL ${match[1]}`, major: Number(match[2]) };
}

async function versionOutput(program: string): Promise<string | undefined> {
  try {
    const result = await run([program, "--version"], { env: { PATH: "/usr/bin:/bin", LANG: "C" } });
    return result.code === 0 ? result.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

async function hasServerPrograms(bindir: string): Promise<boolean> {
  const found = await Promise.all(SERVER_PROGRAMS.map((p) => isExecutableFile(join(bindir, p))));
  return found.every(Boolean);
}

async function inspectBindir(bindir: string, source: PgBuildSource): Promise<PgBuild | string> {
  let real: string;
  try {
    real = await Deno.realPath(bindir);
  } catch (error) {
    return error instanceof Deno.errors.NotFound
      ? `${bindir}: no such directory`
      : `${bindir}: ${messageOf(error)}`;
  }
  if (!(await hasServerPrograms(real))) return `${bindir}: no ${SERVER_PROGRAMS.join("/")} there`;
  const tool = async (name: string) =>
    (await isExecutableFile(join(real, name))) ? join(real, name) : findOnPathSync(name);
  const [serverOutput, psql, pgbench] = await Promise.all([
    versionOutput(join(real, "postgres")),
    tool("psql"),
    tool("pgbench"),
  ]);
  const parsed = serverOutput === undefined ? undefined : parseServerVersion(serverOutput);
  if (parsed === undefined) return `${bindir}: "postgres --version" gave no PostgreSQL version`;
  if (psql === undefined || pgbench === undefined) return `${bindir}: psql or pgbench not found`;
  const psqlVersion = await versionOutput(psql);
  if (psqlVersion === undefined) return `${bindir}: "${psql} --version" failed`;
  return { bindir: real, source, ...parsed, psql, psqlVersion, pgbench };
}

async function pgConfigBindir(): Promise<string | undefined> {
  try {
    const result = await run(["pg_config", "--bindir"]);
    const dir = result.stdout.trim();
    return result.code === 0 && dir !== "" ? dir : undefined;
  } catch {
    return undefined;
  }
}

async function distributionBindirs(): Promise<string[]> {
  const dirs: { major: number; path: string }[] = [];
  try {
    for await (const entry of Deno.readDir(DISTRIBUTION_ROOT)) {
      if (/^\d+(\.\d+)?$/.test(entry.name)) {
        dirs.push({ major: Number(entry.name), path: join(DISTRIBUTION_ROOT, entry.name, "bin") });
      }
    }
  } catch {
    // no distribution packages
  }
  return dirs.sort((a, b) => b.major - a.major).map((d) => d.path);
}

/**
 * Finds the PostgreSQL builds here, most preferred first, without duplicates.
 * @throws {SqlrsError} `unavailable` when `SQLRS_PG_BIN` is set but holds no usable build
 */
export async function findPgBuilds(): Promise<PgBuild[]> {
  const explicit = Deno.env.get("SQLRS_PG_BIN");
  const candidates: { dir: string; source: PgBuildSource }[] = [];
  if (explicit !== undefined && explicit !== "") candidates.push({ dir: explicit, source: "SQLRS_PG_BIN" });
  const [configured, distribution] = await Promise.all([pgConfigBindir(), distributionBindirs()]);
  if (configured !== undefined) candidates.push({ dir: configured, source: "pg_config" });
  for (const dir of distribution) candidates.push({ dir, source: "distribution" });

  const inspected = await Promise.all(candidates.map((c) => inspectBindir(c.dir, c.source)));
  const builds: PgBuild[] = [];
  for (const [index, result] of inspected.entries()) {
    if (typeof result === "string") {
      if (candidates[index]?.source === "SQLRS_PG_BIN") {
        throw new SqlrsError(
          "unavailable",
          `SQLRS_PG_BIN is not a usable PostgreSQL bindir (${result}): fix or unset it`,
        );
      }
      continue;
    }
    if (!builds.some((b) => b.bindir === result.bindir)) builds.push(result);
  }
  return builds;
}

/** One line per build, for error messages and `sqlrs status`. */
export function describeBuilds(builds: readonly PgBuild[]): string {
  return builds.map((b) => `host:${b.major} (${b.version} at ${b.bindir})`).join(", ");
}

/** The build an image reference names, or the error explaining why there is none. */
export function selectBuild(builds: readonly PgBuild[], imageId: string | undefined): PgBuild {
  if (builds.length === 0) throw new SqlrsError("unavailable", INSTALL_HINT);
  if (imageId === undefined || imageId === "host") {
    const explicit = builds.find((b) => b.source === "SQLRS_PG_BIN");
    if (explicit !== undefined) return explicit;
    // Stable sort: among equal majors the more preferred source stays first.
    const best = [...builds].sort((a, b) => b.major - a.major)[0];
    if (best !== undefined) return best;
  }
  const match = /^(?:host:)?(\d+)$/.exec(imageId ?? "");
  if (match !== null) {
    const build = builds.find((b) => b.major === Number(match[1]));
    if (build !== undefined) return build;
  }
  throw new SqlrsError(
    "invalid_argument",
    `Unknown host image "${imageId}": use "host" or "host:<major>"; available: ${describeBuilds(builds)}`,
    { details: { imageId, available: builds.map((b) => `host:${b.major}`) } },
  );
}

/**
 * The {@link ResolvedImage} of a build, as `imageId` named it. The tool identity that keys every step
 * covers psql and the installed extensions (`extensions`, from extensionsDigest()).
 */
export function imageOf(
  build: PgBuild,
  imageId: string | undefined,
  extensions: string,
): ResolvedImage {
  const hash = sha256Hex(`${build.version}\n${INITDB_OPTIONS_VERSION}`).slice(0, 12);
  return {
    runtime: "host",
    imageId: imageId ?? "host",
    resolvedId: `host:${build.version}`,
    storeDir: `host/${build.major}-${hash}`,
    major: build.major,
    toolIdentity: `${build.psqlVersion}; extensions ${extensions}`,
  };
}

/**
 * The build a resolved image stands for: the one with the same version, else (when `exact` is false)
 * one of the same major, whose data directories are compatible.
 */
export function buildOfImage(
  builds: readonly PgBuild[],
  image: ResolvedImage,
  exact: boolean,
): PgBuild | undefined {
  const version = image.resolvedId.replace(/^host:/, "");
  return builds.find((b) => b.version === version) ??
    (exact ? undefined : builds.find((b) => b.major === image.major));
}
