/**
 * The operating-system user PostgreSQL servers run as.
 *
 * PostgreSQL refuses to run as root, so an engine running as root runs its servers as an
 * unprivileged user: `SQLRS_PG_USER`, else `postgres`, else a system user `sqlrs-pg` it creates.
 * Otherwise servers run as the engine's own user.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { run, runOk } from "../../exec.ts";
import { SqlrsError } from "../../../shared/errors.ts";

/** A user account, as servers are started with it. */
export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

/** The system user sqlrs creates when no other fits. */
export const CREATED_USER = "sqlrs-pg";

/**
 * Looks a user up by name or numeric uid through NSS (`getent passwd`).
 * Resolves with undefined when there is no such user.
 */
export async function lookupUser(nameOrUid: string): Promise<ServerUser | undefined> {
  const result = await run(["getent", "passwd", nameOrUid], { env: { PATH: "/usr/bin:/bin" } });
  if (result.code !== 0) return undefined;
  const fields = result.stdout.split("\n")[0]?.split(":") ?? [];
  const [name, , uid, gid] = fields;
  if (name === undefined || uid === undefined || gid === undefined) return undefined;
  return { name, uid: Number(uid), gid: Number(gid) };
}

async function createSystemUser(name: string): Promise<ServerUser> {
  const argv = [
    "useradd",
    "--system",
    "--user-group",
    "--no-create-home",
    "--shell",
    "/usr/sbin/nologin",
    name,
  ];
  const result = await run(argv, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
  // Exit 9: another engine created it meanwhile.
  const user = await lookupUser(name);
  if (user !== undefined) return user;
  throw new SqlrsError(
    "unavailable",
    `Cannot create the system user "${name}" that PostgreSQL runs as (${
      argv.join(" ")
    }: exit ${result.code}` +
      `${
        result.stderr.trim() ? `: ${result.stderr.trim()}` : ""
      }); create an unprivileged user and set SQLRS_PG_USER`,
  );
}

async function findServerUser(): Promise<ServerUser> {
  const uid = Deno.uid();
  if (uid === null) throw new SqlrsError("unavailable", "The host runtime needs a Unix system");
  if (uid !== 0) {
    const self = await lookupUser(String(uid));
    return { name: self?.name ?? Deno.env.get("USER") ?? String(uid), uid, gid: Deno.gid() ?? uid };
  }
  const configured = Deno.env.get("SQLRS_PG_USER");
  if (configured !== undefined && configured !== "") {
    const user = await lookupUser(configured);
    if (user === undefined) {
      throw new SqlrsError(
        "unavailable",
        `SQLRS_PG_USER names no user "${configured}": create it ("sudo useradd --system ${configured}") or unset SQLRS_PG_USER`,
      );
    }
    if (user.uid === 0) {
      throw new SqlrsError(
        "unavailable",
        `SQLRS_PG_USER="${configured}" is root, which PostgreSQL refuses to run as`,
      );
    }
    return user;
  }
  return (await lookupUser("postgres")) ?? (await createSystemUser(CREATED_USER));
}

let cached: { key: string; user: Promise<ServerUser> } | undefined;

/** The user servers run as (looked up once per process and `SQLRS_PG_USER` value). */
export function serverUser(): Promise<ServerUser> {
  const key = `${Deno.uid()}:${Deno.env.get("SQLRS_PG_USER") ?? ""}`;
  if (cached?.key !== key) {
    const user = findServerUser();
    cached = { key, user };
    user.catch(() => {
      if (cached?.user === user) cached = undefined;
    });
  }
  return cached.user;
}

/** Whether processes started as `user` need no uid switch (the engine is that user). */
export function isEngineUser(user: ServerUser): boolean {
  return user.uid === Deno.uid();
}

/** Changes the owner of `path` and everything under it to `user` (symlinks themselves, not their targets). */
export async function chownTree(path: string, user: ServerUser): Promise<void> {
  await runOk(["chown", "-R", "--no-dereference", `${user.uid}:${user.gid}`, "--", path], {
    env: { PATH: "/usr/bin:/bin" },
  });
}

function canSearch(info: Deno.FileInfo, user: ServerUser): boolean {
  const mode = info.mode ?? 0;
  // Servers are started with their primary group only (the uid switch drops supplementary groups).
  if (info.uid === user.uid) return (mode & 0o100) !== 0;
  if (info.gid === user.gid) return (mode & 0o010) !== 0;
  return (mode & 0o001) !== 0;
}

/**
 * Checks that `user` has search permission on `dir` and every directory above it.
 * Permission bits only: ACLs are not consulted.
 * @throws {SqlrsError} `unavailable` naming the first directory that blocks the user
 */
export async function assertUserCanReach(dir: string, user: ServerUser): Promise<void> {
  if (user.uid === 0) return;
  let real: string;
  try {
    real = await Deno.realPath(dir);
  } catch {
    real = resolve(dir);
  }
  const chain: string[] = [];
  for (let current = real;; current = dirname(current)) {
    chain.unshift(current);
    if (current === dirname(current)) break;
  }
  for (const path of chain) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch {
      return; // a missing directory is reported by whoever needs it
    }
    if (!canSearch(info, user)) {
      const mode = ((info.mode ?? 0) & 0o7777).toString(8).padStart(4, "0");
      throw new SqlrsError(
        "unavailable",
        `PostgreSQL runs as user "${user.name}" (uid ${user.uid}), which cannot reach ${real}: ` +
          `${path} (mode ${mode}, owner uid ${info.uid}) denies it search permission. ` +
          `Fix: "chmod o+x ${path}", or keep the sqlrs store elsewhere (SQLRS_STATE_STORE)`,
        { details: { path: real, blocking: path, user: user.name } },
      );
    }
  }
}
