/**
 * How much memory a running server uses, for the pool's `maxIdleMemoryBytes`: the proportional set
 * size (PSS: shared pages split among the processes that map them, so shared_buffers counts once per
 * server, not once per backend) of the postmaster and its children.
 *
 * @module
 */

import type { ServerHandle } from "../runtime/types.ts";

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

async function pssBytes(pid: string): Promise<number> {
  const rollup = await readText(`/proc/${pid}/smaps_rollup`);
  const kb = rollup === undefined ? undefined : /^Pss:\s+(\d+) kB/m.exec(rollup)?.[1];
  return kb === undefined ? 0 : Number(kb) * 1024;
}

/**
 * The PSS of a host server's processes in bytes; 0 where it cannot be read (a container's server,
 * whose processes belong to its runtime, or a kernel without `smaps_rollup`).
 */
export async function serverMemoryBytes(server: ServerHandle): Promise<number> {
  if (server.runtime !== "host") return 0;
  const pid = server.runtimeId;
  const children = (await readText(`/proc/${pid}/task/${pid}/children`) ?? "").split(/\s+/).filter(Boolean);
  const sizes = await Promise.all([pid, ...children].map(pssBytes));
  return sizes.reduce((sum, size) => sum + size, 0);
}
