/**
 * An engine built in process with `createEngine` (a real store under /tmp, the host runtime), and its
 * API called as a function: no socket, no CLI, no engine process.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createEngine, type Engine } from "../engine/engine.ts";
import { createHostRuntime } from "../engine/runtime/host/host_runtime.ts";
import { VERSION, VERSION_HEADER } from "../shared/version.ts";
import { stopServersUnder } from "./_sandbox.ts";
import { mountLoop } from "./_stores.ts";

/** Builds an engine on the store under `dir` (as `engine/main.ts` would, without serving it). */
export async function engineOn(dir: string, snapshot = "copy"): Promise<Engine> {
  const engine = await createEngine({
    paths: { stateDir: dir, storeRoot: join(dir, "store") },
    runtimes: [createHostRuntime()],
    snapshotOverride: snapshot,
    log: Deno.env.get("SQLRS_TEST_LOG") === "1" ? (line) => console.error(line) : () => {},
    onShutdownRequest: () => {},
  });
  await engine.start();
  return engine;
}

/**
 * An engine on a fresh store under /tmp, stopped and removed by `dispose`; on btrfs, the store is a
 * btrfs filesystem on a loop file of its own.
 */
export async function inProcessEngine(
  snapshot = "copy",
): Promise<{ engine: Engine; dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "sqlrs-inprocess-" });
  // PostgreSQL runs as an unprivileged user and must reach the store.
  await Deno.chmod(dir, 0o755);
  const store = join(dir, "store");
  if (snapshot === "btrfs") await mountLoop(join(dir, "btrfs.img"), store, ["mkfs.btrfs", "-q"]);
  const engine = await engineOn(dir, snapshot);
  return {
    engine,
    dir,
    async [Symbol.asyncDispose]() {
      await engine.stop();
      engine.close();
      await stopServersUnder(dir);
      if (snapshot === "btrfs") await new Deno.Command("umount", { args: ["-l", store] }).output();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Calls the engine's API as a function, as the CLI would over its socket. */
export function call(engine: Engine, method: string, path: string, body?: string): Promise<Response> {
  return engine.fetch(
    new Request(`http://engine${path}`, {
      method,
      headers: {
        authorization: `Bearer ${engine.token}`,
        [VERSION_HEADER]: VERSION,
        "content-type": "application/json",
      },
      ...(body === undefined ? {} : { body }),
    }),
  );
}

/** The JSON body of a response with the expected status. */
export async function json<T>(response: Response, status: number): Promise<T> {
  const body = await response.json();
  assert.equal(response.status, status, JSON.stringify(body));
  return body as T;
}
