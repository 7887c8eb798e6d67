/**
 * Asks an engine program (not a running engine: a short-lived `--probe-snapshot` run) whether a
 * snapshot backend can work on a store, so that `sqlrs init` refuses a backend before writing it
 * and the CLI never inspects the store itself.
 *
 * @module
 */

import { z } from "../shared/deps.ts";

const Probe = z.object({ available: z.boolean(), detail: z.string() });

/**
 * Runs `engineCommand --probe-snapshot backend` with `env` added (e.g. the store's `SQLRS_STATE_STORE`).
 *
 * @returns whether the backend can work there, and why (or why not)
 * @throws {Error} when the engine program fails or answers something else
 */
export async function probeSnapshotBackend(
  engineCommand: readonly string[],
  backend: string,
  env: Record<string, string>,
): Promise<z.infer<typeof Probe>> {
  const [program, ...args] = engineCommand;
  if (program === undefined) throw new TypeError("Cannot probe the snapshot backend: engineCommand is empty");
  const output = await new Deno.Command(program, {
    args: [...args, "--probe-snapshot", backend],
    env,
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  if (output.code !== 0) {
    throw new Error(
      `Cannot check snapshot backend "${backend}": ${
        new TextDecoder().decode(output.stderr).trim() || stdout
      }`,
    );
  }
  return Probe.parse(JSON.parse(stdout));
}
