/**
 * `engine.json`: how clients find the running engine. Written atomically with mode 0600 once the
 * engine listens; removed on exit, but only while it still describes this engine.
 *
 * @module
 */

import { EngineFile } from "../../shared/schemas.ts";
import { writeFileAtomic } from "../../shared/paths.ts";

/** Publishes `engine.json`. */
export async function writeEngineFile(path: string, content: EngineFile): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(EngineFile.parse(content), null, 2)}\n`, 0o600);
}

/** Removes `engine.json` if it still names the engine `instanceId`. */
export function removeEngineFile(path: string, instanceId: string): void {
  try {
    const current = EngineFile.safeParse(JSON.parse(Deno.readTextFileSync(path)));
    if (current.success && current.data.instanceId === instanceId) Deno.removeSync(path);
  } catch {
    // Already gone or replaced: nothing of ours to remove.
  }
}
