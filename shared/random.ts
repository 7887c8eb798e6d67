/**
 * Random identifiers and secrets.
 *
 * @module
 */

/** `bytes` random bytes as lowercase hex (instance and job ids: 16; tokens: 32). */
export function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}
