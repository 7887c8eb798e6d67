/**
 * A loopback HTTP server for the client's unit tests: it answers as an engine would, so that the
 * client's retry and error handling can be exercised without one.
 *
 * @module
 */

import type { EngineAddress } from "./engine_client.ts";

/** A loopback server answering `handler`, closed on dispose. */
export function serve(handler: (request: Request) => Response): AsyncDisposable & { address: EngineAddress } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  const { port } = server.addr as Deno.NetAddr;
  return {
    address: { endpoint: `http://127.0.0.1:${port}`, token: "t" },
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
