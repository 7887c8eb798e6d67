/**
 * The users of a team engine (`sqlrs engine serve --users FILE`): one JSON object a line,
 * `{"name":"alice","token_sha256":"<64 hex>","admin":false}`. A token is 32 random bytes (hex, with a
 * `sqlrs_` prefix) shown once by `sqlrs engine user add`; the file keeps only its SHA-256. A slow hash
 * (scrypt) protects guessable passwords; a 256-bit random token cannot be guessed, so one SHA-256 is
 * enough and costs nothing per request.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, timingSafeEqual } from "node:crypto";
import { invalidArgument, messageOf } from "../../shared/errors.ts";
import { randomHex } from "../../shared/random.ts";

/** One user of a team engine. */
export interface TeamUser {
  name: string;
  admin: boolean;
}

interface UserLine extends TeamUser {
  token_sha256: string;
}

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;

/** The SHA-256 (hex) of a token, as the users file keeps it. */
export function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function parseLine(line: string, where: string): UserLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw invalidArgument(`Cannot parse ${where}: ${messageOf(error)}`);
  }
  const user = value as Partial<UserLine> | null;
  if (
    user === null || typeof user !== "object" || typeof user.name !== "string" || !NAME.test(user.name) ||
    typeof user.token_sha256 !== "string" || !/^[0-9a-f]{64}$/.test(user.token_sha256) ||
    (user.admin !== undefined && typeof user.admin !== "boolean")
  ) {
    throw invalidArgument(`Cannot parse ${where}: expected {"name", "token_sha256" (64 hex), "admin"?}`);
  }
  return { name: user.name, token_sha256: user.token_sha256, admin: user.admin === true };
}

/**
 * Reads a users file.
 * @throws {SqlrsError} `invalid_argument` when it cannot be read or a line is malformed
 */
export async function readUsers(path: string): Promise<UserLine[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw invalidArgument(`Cannot read the users file "${path}": ${messageOf(error)}`);
  }
  return text.split("\n").flatMap((line, i) =>
    line.trim() === "" ? [] : [parseLine(line, `line ${i + 1} of the users file "${path}"`)]
  );
}

/**
 * Adds a user to a users file (created 0600 when missing) and returns its new token, which is stored
 * nowhere else.
 * @throws {SqlrsError} `invalid_argument` for a bad name, or a name the file already has
 */
export async function addUser(path: string, name: string, admin: boolean): Promise<string> {
  if (!NAME.test(name)) {
    throw invalidArgument(`Invalid user name "${name}": a name starts with a letter: letters, digits, _ . -`);
  }
  const users = await readUsers(path);
  if (users.some((user) => user.name === name)) {
    throw invalidArgument(`User "${name}" is already in "${path}"`);
  }
  const token = `sqlrs_${randomHex(32)}`;
  const line = JSON.stringify({ name, token_sha256: tokenHash(token), admin });
  await Deno.writeTextFile(path, `${line}\n`, { append: true, create: true, mode: 0o600 });
  return token;
}

/**
 * Who a bearer token belongs to, from a users file that is read again when it changes (so that
 * `sqlrs engine user add` takes effect without a restart).
 */
export class TeamUsers {
  readonly #path: string;
  #users: UserLine[] = [];
  #stamp = "";

  private constructor(path: string) {
    this.#path = path;
  }

  /**
   * Opens a users file that must hold at least one user.
   * @throws {SqlrsError} `invalid_argument` when it is missing, empty or malformed
   */
  static async open(path: string): Promise<TeamUsers> {
    const users = new TeamUsers(path);
    await users.#reload();
    if (users.#users.length === 0) {
      throw invalidArgument(`The users file "${path}" has no users: add one with "sqlrs engine user add"`);
    }
    return users;
  }

  async #reload(): Promise<void> {
    const info = await Deno.stat(this.#path).catch(() => undefined);
    const stamp = `${info?.mtime?.getTime()}:${info?.size}`;
    if (stamp === this.#stamp) return;
    this.#users = await readUsers(this.#path);
    this.#stamp = stamp;
  }

  /** The user whose token this is, or undefined; compares hashes in constant time. */
  async authenticate(token: string): Promise<TeamUser | undefined> {
    // A file that became unreadable keeps the users last read: the engine goes on serving them.
    await this.#reload().catch(() => {});
    const given = Buffer.from(tokenHash(token), "hex");
    let found: UserLine | undefined;
    for (const user of this.#users) {
      if (timingSafeEqual(given, Buffer.from(user.token_sha256, "hex"))) found = user;
    }
    return found === undefined ? undefined : { name: found.name, admin: found.admin };
  }
}
