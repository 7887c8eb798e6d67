/**
 * The hash primitive behind every cache key, and the fingerprint of one prepare step.
 *
 * A hash is SHA-256 over length-prefixed records `<key>=<byteLength(value)>:<value>\n` (UTF-8),
 * rendered as lowercase hex. The length prefix makes the encoding unambiguous: no two different
 * record sequences (with keys free of `=`) write the same bytes.
 *
 * @module
 */

const encoder = new TextEncoder();
const NEWLINE = encoder.encode("\n");

/** Lowercase hex of some bytes. */
export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let hex = "";
  for (const byte of view) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** SHA-256, as lowercase hex, over `records` each written as `<key>=<byteLength(value)>:<value>\n`. */
export async function hashRecords(records: ReadonlyArray<readonly [string, string]>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const [key, value] of records) {
    const body = encoder.encode(value);
    const head = encoder.encode(`${key}=${body.byteLength}:`);
    chunks.push(head, body, NEWLINE);
    total += head.byteLength + body.byteLength + 1;
  }
  const buffer = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    buffer.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return toHex(await crypto.subtle.digest("SHA-256", buffer));
}

/**
 * Version of the state-key layout; changing what a key covers must change this. v2: bases have 1 MB
 * WAL segments and the small-WAL settings (a container image's store dir does not show initdb options).
 */
export const KEY_SCHEMA_VERSION = "sqlrs-state-key-v2";

/** What identifies the state one prepare step produces. */
export interface FingerprintInput {
  /** The base identity (first step) or the parent state id. */
  parent: string;
  kind: "psql" | "lb";
  /** The content hash of the step's input (expanded psql content, or a changeset checksum). */
  contentHash: string;
  /** The normalized options that can change the result, in their meaningful order. */
  options: readonly string[];
  /** The tool's identity, e.g. the PostgreSQL major and build and the psql version. */
  toolIdentity: string;
}

/**
 * The fingerprint of one step, which is also the id of the state it produces: `hashRecords` over the
 * key schema version, the parent, the kind, the content hash, each option (in order) and the tool
 * identity.
 */
export function stateFingerprint(input: FingerprintInput): Promise<string> {
  return hashRecords([
    ["schema", KEY_SCHEMA_VERSION],
    ["parent", input.parent],
    ["kind", input.kind],
    ["content", input.contentHash],
    ...input.options.map((option) => ["option", option] as const),
    ["tool", input.toolIdentity],
  ]);
}
