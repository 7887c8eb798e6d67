/**
 * Where clients on this machine reach a server: the address its runtime recorded in the handle.
 *
 * @module
 */

import type { ServerHandle } from "./types.ts";

/** The loopback address servers are published on, and the address of handles recorded before `host` was. */
export const LOOPBACK = "127.0.0.1";

/** The address a client on this machine connects to (with {@link ServerHandle.port}). */
export function serverAddress(server: ServerHandle): string {
  return server.host ?? LOOPBACK;
}
