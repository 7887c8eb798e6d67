/**
 * Consuming a run's event stream: output bytes decoded from base64 and handed on as they arrive, the
 * tool's exit code returned, an engine-side failure thrown.
 *
 * @module
 */

import type { RunEvent } from "../shared/schemas.ts";
import { SqlrsError } from "../shared/errors.ts";

/** What to do with a run's output. */
export interface RunOutputHandlers {
  /** Called with each chunk of the tool's stdout or stderr, in order; awaited before the next. */
  output(stream: "stdout" | "stderr", data: Uint8Array): void | Promise<void>;
  /** The engine's diagnostic lines about the run (e.g. which step starts). */
  log?: ((line: string) => void) | undefined;
}

/**
 * Reads a run's events to the end and returns the tool's exit code (non-zero is not an error).
 *
 * @throws {SqlrsError} `unavailable` when the engine stopped during the run, `internal_error` when it
 * reports another failure or the stream ends without an exit code
 * @example
 * ```ts
 * import { consumeRun } from "./run_output.ts";
 * async function* events() {
 *   yield { type: "stdout" as const, ts: "", data: btoa("1\n") };
 *   yield { type: "exit" as const, ts: "", exit_code: 0 };
 * }
 * let text = "";
 * const code = await consumeRun(events(), {
 *   output: (_stream, data) => void (text += new TextDecoder().decode(data)),
 * });
 * if (code !== 0 || text !== "1\n") throw new Error("unexpected");
 * ```
 */
export async function consumeRun(
  events: AsyncIterable<RunEvent>,
  handlers: RunOutputHandlers,
): Promise<number> {
  let exitCode: number | undefined;
  for await (const event of events) {
    if ((event.type === "stdout" || event.type === "stderr") && event.data !== undefined) {
      await handlers.output(event.type, Uint8Array.fromBase64(event.data));
    } else if (event.type === "log") handlers.log?.(event.data ?? "");
    else if (event.type === "error") {
      // `unavailable`: the engine stopped mid-run (a failure, exit 1), else an engine-side fault.
      const code = event.error?.code === "unavailable" ? "unavailable" : "internal_error";
      throw new SqlrsError(code, event.error?.message ?? "run failed");
    } else if (event.type === "exit") exitCode = event.exit_code;
  }
  if (exitCode === undefined) throw new SqlrsError("internal_error", "The run ended without an exit code");
  return exitCode;
}
