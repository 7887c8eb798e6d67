/**
 * Credentials: who may log in to a server over TCP.
 *
 * Bases are made with no password for the superuser `postgres` and a pg_hba that trusts only the
 * server's private unix socket and asks every TCP client for SCRAM (see `BASE_HBA`): so nothing in a
 * base or a cached state lets anyone in over TCP.
 *
 * - **Instances.** At its first start an instance gets its own login role with a random password
 *   (created over the socket, one round trip); its DSN carries that role. The role lives in the
 *   instance's data directory and the password in its registry row, so restarts keep the DSN, and the
 *   DSN opens no other instance: B's data directory has no role of A's.
 * - **Build servers.** Liquibase connects with JDBC, which has no unix sockets: a build server gets a
 *   random password for `postgres` at start, and loses it before any of its data directory is kept as
 *   a state ({@link dropBuildPassword}). It never leaves the engine (Liquibase receives it in its
 *   environment and its output is redacted).
 *
 * Passwords are sent to the server as SCRAM verifiers, never in clear: they appear in no server log.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { ServerHandle } from "../runtime/types.ts";
import { runSocketSql } from "../runtime/socket_sql.ts";
import { randomHex } from "../../shared/random.ts";

/** What a client logs in with. */
export interface Credential {
  user: string;
  password: string;
}

/** PostgreSQL's default iteration count (scram_iterations). */
const SCRAM_ITERATIONS = 4096;

async function hmac(key: Uint8Array<ArrayBuffer>, text: string): Promise<Uint8Array<ArrayBuffer>> {
  const imported = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", imported, new TextEncoder().encode(text)));
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677, as in `pg_authid`):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. Given to `PASSWORD '…'`, PostgreSQL
 * stores it as it is, so the password itself never reaches the server. `password` must be ASCII
 * (SASLprep leaves it unchanged).
 */
export async function scramVerifier(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const salted = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt, iterations: SCRAM_ITERATIONS },
      key,
      256,
    ),
  );
  const clientKey = await hmac(salted, "Client Key");
  const storedKey = new Uint8Array(await crypto.subtle.digest("SHA-256", clientKey));
  const serverKey = await hmac(salted, "Server Key");
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${base64(salt)}$${base64(storedKey)}:${base64(serverKey)}`;
}

/**
 * The verifier of `password`, started now for a {@link createInstanceRole} later (see
 * {@link InstanceRoleOptions.verifier}); handled, so that it rejects only where it is awaited.
 */
export function passwordVerifier(password: string): Promise<string> {
  const verifier = scramVerifier(password);
  verifier.catch(() => {});
  return verifier;
}

/** A new credential for the instance `instanceId`: role `sqlrs_<id>`, 32 random hex characters. */
export function newInstanceCredential(instanceId: string): Credential {
  return { user: `sqlrs_${instanceId}`, password: randomHex(16) };
}

/** Options of {@link createInstanceRole}. */
export interface InstanceRoleOptions {
  /** A role to drop in the same round trip (a warm instance's, whose clone another instance took). */
  replaces?: string | undefined;
  /**
   * The password's verifier, when the caller started computing it earlier (while the server
   * starts: PBKDF2 costs a millisecond or two of the hand-out otherwise).
   */
  verifier?: Promise<string>;
}

/**
 * Creates the login role of `credential` on a freshly started instance and resolves with the server
 * handle its DSN and tools use (that role and password).
 *
 * The role is SUPERUSER: an instance stands in for the `postgres` DSN of earlier versions, and tests
 * expect to do what it allowed (CREATE EXTENSION of untrusted extensions, COPY from files, ALTER
 * SYSTEM, other roles). That power is over this instance only: it is a clone, so nothing it writes
 * reaches a cached state, and other instances accept only their own roles over TCP.
 * @throws {SqlrsError} `internal_error` when the server refuses
 */
export async function createInstanceRole(
  server: ServerHandle,
  credential: Credential,
  options: InstanceRoleOptions = {},
): Promise<ServerHandle> {
  const verifier = await (options.verifier ?? scramVerifier(credential.password));
  const { replaces } = options;
  const drop = replaces === undefined ? "" : `DROP ROLE "${replaces}"; `;
  await runSocketSql(
    server,
    `${drop}CREATE ROLE "${credential.user}" LOGIN SUPERUSER PASSWORD '${verifier}'`,
    "create the instance's role",
  );
  return { ...server, ...credential };
}

/**
 * Gives `postgres` on a build server a random password for the clients that need TCP (Liquibase)
 * and resolves with the handle that carries it.
 * @throws {SqlrsError} `internal_error` when the server refuses
 */
export async function setBuildPassword(server: ServerHandle): Promise<ServerHandle> {
  const password = randomHex(16);
  await runSocketSql(
    server,
    `ALTER ROLE postgres PASSWORD '${await scramVerifier(password)}'`,
    "set the build password",
  );
  return { ...server, user: "postgres", password };
}

/**
 * Removes the build password of `postgres` (before the data directory is kept as a state: a cached
 * state holds no password).
 * @throws {SqlrsError} `internal_error` when the server refuses
 */
export async function dropBuildPassword(server: ServerHandle): Promise<void> {
  await runSocketSql(server, "ALTER ROLE postgres PASSWORD NULL", "remove the build password");
}
