/**
 * One engine per store: an exclusive `flock` on `<store>/engine.lock`, released by the kernel when
 * the engine dies, so a crash never leaves a stale lock.
 *
 * @module
 */

import { join } from "node:path";
import { SqlrsError } from "../../shared/errors.ts";

/**
 * Takes the store lock and records our pid in it.
 * @throws {SqlrsError} `unavailable` when another engine holds it
 */
export async function acquireStoreLock(storeRoot: string): Promise<Deno.FsFile> {
  const path = join(storeRoot, "engine.lock");
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  if (!(await file.tryLock(true))) {
    file.close();
    const holder = (await Deno.readTextFile(path).catch(() => "")).trim();
    throw new SqlrsError(
      "unavailable",
      `Another sqlrs engine${holder ? ` (pid ${holder})` : ""} is already serving the store ${storeRoot}; ` +
        `stop it with "sqlrs engine stop" or use a different SQLRS_STATE_STORE`,
    );
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  return file;
}
