/**
 * Base64 of byte chunks, for run output carried in JSON. Node's Buffer codec is native: a run that
 * streams hundreds of megabytes makes one string per chunk, not the char-code arrays and binary
 * strings of `btoa`, whose garbage grew the engine's heap by ~100 MB on a 2M-row `run:psql`.
 *
 * @module
 */

import { Buffer } from "node:buffer";

/** Encodes bytes as base64. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Decodes base64 into bytes. */
export function decodeBase64(text: string): Uint8Array {
  const decoded = Buffer.from(text, "base64");
  return new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength);
}
