/**
 * Runs one SQL command on a server over its private unix socket, speaking the PostgreSQL wire protocol
 * (v3) directly: the engine's own requests (creating an instance's role) cost one connection (a few ms
 * on a fresh server, most of it the new backend's start) and no process, where psql would add a process
 * on the host and 85-170 ms of `docker`/`podman exec` in a container (see container_runtime.ts). The
 * socket authenticates with trust: only the server user (and root) can reach its directory.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { messageOf, SqlrsError } from "../../shared/errors.ts";
import type { ServerHandle } from "./types.ts";

const PROTOCOL_V3 = 196608;
const TIMEOUT_MS = 30_000;
/** Linux's sun_path holds 108 bytes with the final NUL. */
const MAX_SOCKET_PATH = 107;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The socket file of `server`: `.s.PGSQL.<port>` in its socket dir, else the only socket there
 * (a container's server listens on its own port inside, which the handle does not record).
 */
async function socketPath(server: ServerHandle): Promise<string> {
  if (server.socketDir === null) {
    throw new SqlrsError("internal_error", `The server on ${server.dataDir} has no unix socket`);
  }
  const own = join(server.socketDir, `.s.PGSQL.${server.port}`);
  try {
    if ((await Deno.lstat(own)).isSocket) return own;
  } catch {
    // a container's: see below
  }
  const sockets: string[] = [];
  for await (const entry of Deno.readDir(server.socketDir)) {
    if (/^\.s\.PGSQL\.\d+$/.test(entry.name)) sockets.push(join(server.socketDir, entry.name));
  }
  if (sockets.length !== 1) {
    throw new SqlrsError(
      "internal_error",
      `Cannot find the socket of the server on ${server.dataDir} in ${server.socketDir}: found ${sockets.length}`,
    );
  }
  return sockets[0] as string;
}

/**
 * Connects to the unix socket `path`. A path too long for sun_path (a container's socket dir is deep in
 * the store) is reached through a symlink to its directory in a fresh private dir under /tmp, removed
 * once connected.
 */
async function connectUnix(path: string): Promise<Deno.Conn> {
  if (encoder.encode(path).length <= MAX_SOCKET_PATH) return await Deno.connect({ transport: "unix", path });
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "sqlrs-" });
  try {
    await Deno.symlink(dirname(path), join(dir, "s"));
    return await Deno.connect({ transport: "unix", path: join(dir, "s", basename(path)) });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A message: its one-byte type, then its body after the length. */
function message(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

function startupMessage(user: string, database: string): Uint8Array {
  const params = encoder.encode(`user\0${user}\0database\0${database}\0application_name\0sqlrs\0\0`);
  const out = new Uint8Array(8 + params.length);
  const view = new DataView(out.buffer);
  view.setInt32(0, out.length);
  view.setInt32(4, PROTOCOL_V3);
  out.set(params, 8);
  return out;
}

/** The `M`essage (and SQLSTATE) fields of an ErrorResponse body. */
function errorText(body: Uint8Array): string {
  const fields = new Map<string, string>();
  for (const field of decoder.decode(body).split("\0")) {
    if (field.length > 1) fields.set(field[0] as string, field.slice(1));
  }
  return `${fields.get("M") ?? "unknown error"} (SQLSTATE ${fields.get("C") ?? "?"})`;
}

/** Reads whole messages from a connection. */
class MessageReader {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async #fill(bytes: number): Promise<void> {
    while (this.#buffer.length < bytes) {
      const chunk = new Uint8Array(Math.max(8192, bytes));
      const read = await this.#conn.read(chunk);
      if (read === null) throw new Error("the server closed the connection");
      const merged = new Uint8Array(this.#buffer.length + read);
      merged.set(this.#buffer);
      merged.set(chunk.subarray(0, read), this.#buffer.length);
      this.#buffer = merged;
    }
  }

  async next(): Promise<{ type: string; body: Uint8Array }> {
    await this.#fill(5);
    const length = new DataView(this.#buffer.buffer, this.#buffer.byteOffset).getInt32(1);
    await this.#fill(1 + length);
    const type = String.fromCharCode(this.#buffer[0] as number);
    const body = this.#buffer.slice(5, 1 + length);
    this.#buffer = this.#buffer.slice(1 + length);
    return { type, body };
  }
}

/** Reads a query's replies up to ReadyForQuery; resolves with the first error the server sent, if any. */
async function untilReady(reader: MessageReader): Promise<string | undefined> {
  let error: string | undefined;
  for (;;) {
    const { type, body } = await reader.next();
    if (type === "Z") return error;
    if (type === "E") error ??= errorText(body);
  }
}

/**
 * Runs `sql` (a simple query: one or more statements, one transaction) on `server` as `postgres` over
 * its unix socket and resolves once it succeeded. The text is on no command line and in no log; `what`
 * names the action in errors (`create the instance's role`). Gives up after 30 s.
 * @throws {SqlrsError} `internal_error` naming the server and the server's message when it fails
 */
export async function runSocketSql(server: ServerHandle, sql: string, what: string): Promise<void> {
  let conn: Deno.Conn | undefined;
  // Closing the connection ends a read that waits for a server that hangs.
  const timer = setTimeout(() => closeQuietly(conn), TIMEOUT_MS);
  try {
    conn = await connectUnix(await socketPath(server));
    const reader = new MessageReader(conn);
    await writeAll(conn, startupMessage("postgres", "postgres"));
    const refused = await untilReadyOrRefused(reader);
    if (refused !== undefined) throw new Error(refused);
    const query = encoder.encode(`${sql}\0`);
    await writeAll(conn, message("Q", query));
    const failed = await untilReady(reader);
    await writeAll(conn, message("X", new Uint8Array(0))).catch(() => {});
    if (failed !== undefined) throw new Error(failed);
  } catch (error) {
    if (error instanceof SqlrsError) throw error;
    throw new SqlrsError(
      "internal_error",
      `Cannot ${what} on the server on ${server.dataDir}: ${messageOf(error)}`,
    );
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch {
    // already closed
  }
}

/** Startup: an ErrorResponse here is the last message (the server closes), so it is returned at once. */
async function untilReadyOrRefused(reader: MessageReader): Promise<string | undefined> {
  for (;;) {
    const { type, body } = await reader.next();
    if (type === "Z") return undefined;
    if (type === "E") return errorText(body);
    if (type === "R") {
      const code = new DataView(body.buffer, body.byteOffset).getInt32(0);
      if (code !== 0) return `the server asks for authentication (method ${code}) on its socket`;
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}
