/**
 * PostgreSQL by hand, each step as fast as its technique allows: initdb, a direct `postgres` start
 * polled through the status line of `postmaster.pid` every 2 ms (no `pg_ctl -w` 100 ms quantum),
 * `pg_ctl start -w` where that is the technique measured, psql, and a fast shutdown (SIGINT, wait for
 * the pid). Servers run as the same unprivileged user and with the same server options as sqlrs's.
 *
 * @module
 */

import { join } from "node:path";
import { type LiveChild, run, runOk, spawn, spawnInteractive } from "./_exec.ts";
import { findPgBuilds, selectBuild } from "../engine/runtime/host/pg_install.ts";

/** Where the PostgreSQL programs are and whom servers run as. */
export interface PgTools {
  bindir: string;
  version: string;
  psql: string;
  pgbench: string;
  /** The user servers run as; undefined when that is the benchmark's own user. */
  user: { name: string; uid: number; gid: number } | undefined;
  /** The environment sqlrs gives servers. */
  env: Record<string, string>;
}

const READY_POLL_MS = 2;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The build sqlrs would pick (same discovery), and the server user sqlrs would use. */
export async function pgTools(): Promise<PgTools> {
  const build = selectBuild(await findPgBuilds(), undefined);
  let user: PgTools["user"];
  if (Deno.uid() === 0) {
    const name = Deno.env.get("SQLRS_PG_USER") || "postgres";
    const line = (await runOk(["getent", "passwd", name])).split("\n")[0] ?? "";
    const [, , uid, gid] = line.split(":");
    if (uid === undefined || gid === undefined) throw new Error(`Cannot find the server user "${name}"`);
    user = { name, uid: Number(uid), gid: Number(gid) };
  }
  return {
    bindir: build.bindir,
    version: build.version,
    psql: build.psql,
    pgbench: build.pgbench,
    user,
    env: { PATH: `${build.bindir}:/usr/bin:/bin`, LANG: "C.UTF-8" },
  };
}

function asUser(tools: PgTools): { uid?: number; gid?: number } {
  return tools.user === undefined ? {} : { uid: tools.user.uid, gid: tools.user.gid };
}

/** Makes `path` a directory owned by the server user with mode 0700 (a socket or data directory). */
export async function ownedDir(tools: PgTools, path: string, mode = 0o700): Promise<void> {
  await Deno.mkdir(path, { recursive: true });
  if (tools.user !== undefined) await Deno.chown(path, tools.user.uid, tools.user.gid);
  await Deno.chmod(path, mode);
}

/** A loopback port nobody listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** `initdb` as the server user; `noSync` adds `-N`. The parent of `dataDir` must be writable by that user. */
export async function initdb(tools: PgTools, dataDir: string, noSync = false): Promise<void> {
  const argv = [
    join(tools.bindir, "initdb"),
    "-D",
    dataDir,
    "-U",
    "postgres",
    "-E",
    "UTF8",
    "--locale=C",
    "--auth=trust",
    ...(noSync ? ["-N"] : []),
  ];
  await runOk(argv, { cwd: "/", env: tools.env, ...asUser(tools) });
}

/**
 * Server options as sqlrs passes them to an instance (see `serverArgs` in the host runtime); `fsync` off
 * for throwaway clusters.
 */
function serverOptions(port: number, socketDir: string, fsync = true): string[] {
  return [
    "-p",
    String(port),
    "-k",
    socketDir,
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    `fsync=${fsync ? "on" : "off"}`,
  ];
}

/** A server this benchmark started. */
export interface Server {
  dataDir: string;
  port: number;
  socketDir: string;
  pid: number;
  /** Set for direct starts: the postmaster is our child. */
  child?: LiveChild;
}

async function pidFileLines(dataDir: string): Promise<string[] | undefined> {
  try {
    return (await Deno.readTextFile(join(dataDir, "postmaster.pid"))).split("\n");
  } catch {
    return undefined;
  }
}

/** Whether `pid` exists and is not a zombie. */
export async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X" && state !== "";
  } catch {
    return false;
  }
}

/**
 * Starts `postgres` directly as the server user and resolves when `postmaster.pid` says "ready":
 * the physical floor of starting a server.
 */
export async function startDirect(
  tools: PgTools,
  dataDir: string,
  socketDir: string,
  options: { fsync?: boolean } = {},
): Promise<Server> {
  const port = freePort();
  const child = spawn([
    join(tools.bindir, "postgres"),
    "-D",
    dataDir,
    ...serverOptions(port, socketDir, options.fsync),
  ], {
    cwd: "/",
    env: tools.env,
    ...asUser(tools),
  });
  let exited = false;
  child.status.then(() => (exited = true));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const lines = await pidFileLines(dataDir);
    if (Number(lines?.[0]) === child.pid && lines?.[7]?.trim() === "ready") break;
    if (exited || Date.now() > deadline) {
      child.kill("SIGQUIT");
      await child.status;
      throw new Error(`postgres did not become ready on ${dataDir}:\n${child.stderrTail().trim()}`);
    }
    await sleep(READY_POLL_MS);
  }
  return { dataDir, port, socketDir, pid: child.pid, child };
}

/** `pg_ctl start -w` (pg_ctl's own readiness wait) as the server user. */
export async function startPgCtl(
  tools: PgTools,
  dataDir: string,
  socketDir: string,
  logFile: string,
): Promise<Server> {
  const port = freePort();
  await runOk([
    join(tools.bindir, "pg_ctl"),
    "-D",
    dataDir,
    "-l",
    logFile,
    "-w",
    "-o",
    serverOptions(port, socketDir).map((a) => (a.includes(" ") ? `'${a}'` : a)).join(" "),
    "start",
  ], { cwd: "/", env: tools.env, ...asUser(tools) });
  const pid = Number((await pidFileLines(dataDir))?.[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`pg_ctl started no postmaster on ${dataDir}`);
  return { dataDir, port, socketDir, pid };
}

/** Fast shutdown: SIGINT, then wait until the postmaster is gone. */
export async function stop(server: Server): Promise<void> {
  if (server.child !== undefined) {
    server.child.kill("SIGINT");
    await server.child.status;
    return;
  }
  try {
    Deno.kill(server.pid, "SIGINT");
  } catch {
    return;
  }
  const deadline = Date.now() + 60_000;
  while (await alive(server.pid)) {
    if (Date.now() > deadline) {
      Deno.kill(server.pid, "SIGKILL");
      break;
    }
    await sleep(2);
  }
}

function connection(server: Server): string[] {
  return ["-h", server.socketDir, "-p", String(server.port), "-U", "postgres"];
}

/** `psql -X -q -v ON_ERROR_STOP=1 -f file` against `database`, as sqlrs runs a step. */
export async function psqlFile(
  tools: PgTools,
  server: Server,
  file: string | readonly string[],
  database = "postgres",
): Promise<void> {
  await runOk([
    tools.psql,
    "-X",
    "-q",
    "-v",
    "ON_ERROR_STOP=1",
    ...connection(server),
    "-d",
    database,
    ...(typeof file === "string" ? [file] : file).flatMap((f) => ["-f", f]),
  ], {
    env: { PGAPPNAME: "sqlrs-bench" },
  });
}

/** `psql -X -q -v ON_ERROR_STOP=1 -c sql`. */
export async function psqlCommand(
  tools: PgTools,
  server: Server,
  sql: string,
  database = "postgres",
): Promise<string> {
  return await runOk(
    [
      tools.psql,
      "-X",
      "-q",
      "-A",
      "-t",
      "-v",
      "ON_ERROR_STOP=1",
      ...connection(server),
      "-d",
      database,
      "-c",
      sql,
    ],
  );
}

/** `pgbench -i -q -s scale` into `database`. */
export async function pgbenchInit(
  tools: PgTools,
  server: Server,
  scale: number,
  database: string,
): Promise<void> {
  await runOk([tools.pgbench, "-i", "-q", "-s", String(scale), ...connection(server), database]);
}

/**
 * One psql connection kept open, as pgtestdb or IntegreSQL keep theirs: each statement is followed by
 * an `\echo` marker, so its end is seen without a process start or a new connection.
 */
export class PsqlSession implements AsyncDisposable {
  readonly #child;
  #n = 0;

  constructor(tools: PgTools, server: Server, database = "postgres") {
    this.#child = spawnInteractive(
      [tools.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0", ...connection(server), "-d", database],
      { env: { PGAPPNAME: "sqlrs-bench" } },
    );
  }

  /** Runs one statement and resolves when psql has finished it; throws when it failed. */
  async exec(sql: string): Promise<void> {
    const marker = `__sqlrs_bench_${++this.#n}`;
    await this.#child.write(`${sql.trim().replace(/;?$/, ";")}\n\\echo ${marker} :ERROR\n`);
    for (;;) {
      const line = await this.#child.readLine();
      if (line === undefined) throw new Error(`psql session ended: ${this.#child.stderrTail().trim()}`);
      if (!line.startsWith(marker)) continue;
      if (line.endsWith("true")) {
        throw new Error(
          `Statement failed: ${sql}\n${this.#child.stderrTail().trim().split("\n").slice(-3).join("\n")}`,
        );
      }
      return;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#child.close();
  }
}

/** Removes a data directory tree (as root; `rm -rf`, staying on one filesystem). */
export async function removeTree(path: string): Promise<void> {
  await run(["rm", "-rf", "--one-file-system", "--", path]);
}
