/**
 * What a team engine needs before it serves: not root, its certificate and key, and its users.
 *
 * Tools (psql, and PostgreSQL on the host runtime) run as the engine's user. As root, the host
 * runtime runs PostgreSQL as an unprivileged user but psql and Liquibase as root, so a team engine
 * refuses to start as root: run it as an unprivileged user that owns its store.
 *
 * @module
 */

import { invalidArgument, messageOf } from "../../shared/errors.ts";
import { TeamUsers } from "./users.ts";

/** `--tls-cert`, `--tls-key` and `--users` of a team engine. */
export interface TeamOptions {
  tlsCert: string;
  tlsKey: string;
  users: string;
}

/** A team engine's certificate, key (PEM) and users. */
export interface TeamServing {
  cert: string;
  key: string;
  users: TeamUsers;
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw invalidArgument(`Cannot read the ${what} "${path}": ${messageOf(error)}`);
  }
}

/**
 * Checks and loads what a team engine serves with.
 * @throws {SqlrsError} `invalid_argument` as root, or when a file cannot be read or has no users
 */
export async function openTeam(options: TeamOptions, uid: number | null = Deno.uid()): Promise<TeamServing> {
  if (uid === 0) {
    throw invalidArgument(
      "Refusing to serve a team as root: psql would run as root on behalf of remote users; " +
        "run the engine as an unprivileged user that owns its store",
    );
  }
  return {
    cert: await readPem(options.tlsCert, "TLS certificate"),
    key: await readPem(options.tlsKey, "TLS key"),
    users: await TeamUsers.open(options.users),
  };
}
