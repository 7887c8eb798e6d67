/**
 * Small helpers every runtime needs (private to `engine/runtime/`).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { SqlrsError } from "../../shared/errors.ts";

/** How many lines of a server log an error quotes. */
export const LOG_TAIL_LINES = 20;

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** SHA-256 of a text, as lowercase hex (synchronous: WebCrypto's digest is a round trip per call). */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Whether `path` is `root` or inside it. */
export function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith("/") ? root : `${root}/`);
}

/** The last `lines` lines of a text. */
export function lastLines(text: string, lines = LOG_TAIL_LINES): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** The error for an aborted operation: the abort reason when it is one of ours, else `cancelled`. */
export function cancelled(signal: AbortSignal, what: string): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof SqlrsError) return reason;
  return new SqlrsError("cancelled", `${what} was cancelled`, { cause: reason });
}

/** The size of a file, 0 when it does not exist. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

/** The last lines `path` got after byte `from` (a server log since a start began). */
export async function logTail(path: string, from: number): Promise<string> {
  try {
    const bytes = await Deno.readFile(path);
    return lastLines(new TextDecoder().decode(bytes.subarray(Math.min(from, bytes.length))));
  } catch {
    return "";
  }
}
