/**
 * sqlrs for automation: a typed client of the local engine, which it finds or starts exactly as
 * the `sqlrs` CLI does.
 *
 * @example
 * ```ts ignore
 * import { connect } from "@sqlrs/sqlrs";
 * using engine = await connect();
 * console.log((await engine.status()).version);
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { connectEngine, type ConnectOptions } from "./client/discovery.ts";
import type { EngineClient } from "./client/engine_client.ts";

export { ApiError, EngineClient, EngineUnreachableError } from "./client/engine_client.ts";
export type { EngineAddress, EngineClientOptions } from "./client/engine_client.ts";
export type { ConnectOptions } from "./client/discovery.ts";

/** The argv that starts an engine from this module's own copy of `engine/main.ts`. */
function moduleEngineCommand(): string[] {
  const url = new URL("./engine/main.ts", import.meta.url);
  return [Deno.execPath(), "run", "-A", "--quiet", url.protocol === "file:" ? fileURLToPath(url) : url.href];
}

/**
 * Connects to the local engine, starting one when none runs.
 *
 * @example
 * ```ts ignore
 * import { connect } from "@sqlrs/sqlrs";
 * using engine = await connect({ idleTimeout: "30s" });
 * ```
 */
export function connect(options: Partial<ConnectOptions> = {}): Promise<EngineClient> {
  return connectEngine({ engineCommand: moduleEngineCommand(), ...options });
}
