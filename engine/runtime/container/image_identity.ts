/**
 * Container image identity: digests, qualified references, store dirs, and what a probe of the
 * image found.
 *
 * @module
 */

import { BASE_VERSION } from "../host/pg_install.ts";

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

/** Prints the facts {@link parseImageProbe} reads. */
export const PROBE_SCRIPT = [
  'echo "uid=$(id -u postgres 2>/dev/null)"',
  'echo "gid=$(id -g postgres 2>/dev/null)"',
  'echo "postgres=$(postgres --version 2>/dev/null)"',
  'echo "psql=$(psql --version 2>/dev/null)"',
].join("; ");
