/**
 * psql and pgbench of a container runtime: run inside, as the engine's user, either by `exec` in the
 * server container (when it sees the work dir, or the invocation opens no file) or in a short-lived
 * tool container that mounts the work dir and reaches the server through the socket dir.
 *
 * @module
 */

import { resolve } from "node:path";
import type { ExecOptions, StreamingChild } from "../../exec.ts";
import { randomHex } from "../../../shared/random.ts";
import { isUnder } from "../_support.ts";
import { connectionArgs, SUPERUSER } from "../_pg_server.ts";
import type { ResolvedImage, ServerHandle, ToolOptions } from "../types.ts";
import { CONTAINER_PORT, CONTAINER_SOCKET_DIR } from "./containers.ts";
import { isDirectory, mountPlan } from "./mounts.ts";
import type { ContainerParts } from "./parts.ts";
import { readsFiles } from "./tool_files.ts";

/** psql and pgbench run as the engine's user, who can read the scripts it was sent (as on the host). */
const ENGINE_USER = `${Deno.uid() ?? 0}:${Deno.gid() ?? 0}`;
/** Where tools inside a container find the server. */
const IN_CONTAINER = { host: CONTAINER_SOCKET_DIR, port: CONTAINER_PORT };

/** The work dir mounts a tool container needs, or none when the tool can run in the server container. */
function toolMounts(
  server: ServerHandle,
  tool: "psql" | "pgbench",
  args: readonly string[],
  options: ToolOptions,
): { inServer: boolean; mounts: string[] } {
  const cwd = resolve(options.cwd);
  const inServer = cwd === "/" || (server.mounts ?? []).some((mount) => isUnder(cwd, mount));
  if (inServer || !readsFiles(tool, args, options.stdin)) return { inServer, mounts: [] };
  try {
    return { inServer, mounts: mountPlan([cwd], isDirectory) };
  } catch {
    return { inServer, mounts: [] };
  }
}

/** Starts psql or pgbench against a server container (connection arguments appended). */
export function spawnContainerTool(
  parts: ContainerParts,
  image: ResolvedImage,
  server: ServerHandle,
  tool: "psql" | "pgbench",
  args: readonly string[],
  options: ToolOptions,
): StreamingChild {
  const { cli } = parts;
  const appName = `sqlrs-${randomHex(8)}`;
  const target = { ...IN_CONTAINER, user: server.user };
  const toolArgs = [...args, ...connectionArgs(tool, target, options.database ?? "postgres")];
  const cwd = resolve(options.cwd);
  const { inServer, mounts } = toolMounts(server, tool, args, options);
  const interactive = options.stdin === undefined ? [] : ["-i"];
  let argv: string[];
  let toolContainer: string | undefined;
  if (inServer || mounts.length === 0) {
    argv = [
      "exec",
      ...interactive,
      "--user",
      ENGINE_USER,
      "-w",
      inServer ? cwd : "/",
      "-e",
      `PGAPPNAME=${appName}`,
      server.runtimeId,
      tool,
      ...toolArgs,
    ];
  } else {
    // The server container cannot see the work dir: a tool container that mounts it, talking to the
    // server through the socket dir.
    toolContainer = appName;
    argv = [
      "run",
      "--rm",
      ...interactive,
      "--name",
      toolContainer,
      ...parts.containers.labels(server.dataDir),
      "--pull",
      "never",
      "--network",
      "none",
      "--user",
      ENGINE_USER,
      ...parts.flavor.runOptions,
      "-v",
      `${server.socketDir}:${CONTAINER_SOCKET_DIR}`,
      ...mounts.flatMap((path) => ["-v", `${path}:${path}:ro`]),
      "-w",
      cwd,
      "-e",
      `PGAPPNAME=${appName}`,
      "--entrypoint",
      tool,
      image.resolvedId,
      ...toolArgs,
    ];
  }
  const exec: ExecOptions = {};
  if (options.stdin !== undefined) exec.stdin = options.stdin;
  if (options.signal !== undefined) exec.signal = options.signal;
  const child = cli.spawn(argv, exec);

  // Killing the CLI does not stop what it runs in the container: end that too.
  let settled = false;
  const cleanup = () => {
    if (settled) return;
    settled = true;
    const done = toolContainer !== undefined ? cli.run(["rm", "-f", toolContainer]) : cli.run([
      "exec",
      server.runtimeId,
      "psql",
      "-X",
      "-q",
      ...connectionArgs("psql", { ...IN_CONTAINER, user: SUPERUSER }, "postgres"),
      "-c",
      `select pg_terminate_backend(pid) from pg_stat_activity where application_name = '${appName}'`,
    ]);
    done.catch(() => {});
  };
  options.signal?.addEventListener("abort", cleanup, { once: true });
  const status = child.status.finally(() => {
    settled = true;
    options.signal?.removeEventListener("abort", cleanup);
  });
  return {
    pid: child.pid,
    stdout: child.stdout,
    stderr: child.stderr,
    status,
    kill(signal?: Deno.Signal) {
      child.kill(signal);
      cleanup();
    },
  };
}
