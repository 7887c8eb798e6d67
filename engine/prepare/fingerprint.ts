/**
 * The hash primitive behind every cache key, and the fingerprint of one prepare step.
 *
 * A hash is SHA-256 over length-prefixed records `<key>=<byteLength(value)>:<value>\n` (UTF-8),
 * rendered as lowercase hex. The length prefix makes the encoding unambiguous: no two different
 * record sequences (with keys free of `=`) write the same bytes.
 *
 * @module
 */

import type { PrepareKindName } from "../../shared/prepare_kinds.ts";
import { createHash } from "node:crypto";

const encoder = new TextEncoder();
const NEWLINE = encoder.encode("\n");

/** Lowercase hex of some bytes. */
export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let hex = "";
  for (const byte of view) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/**
 * SHA-256, as lowercase hex, over `records` each written as `<key>=<byteLength(value)>:<value>\n`
 * ({@link RecordHasher}). Hashed synchronously: WebCrypto's digest is a round trip to a worker thread
 * per call, and a plan makes one per step (a 150-step plan, 150 of them).
 */
export function hashRecords(records: ReadonlyArray<readonly [string, string]>): Promise<string> {
  const hasher = new RecordHasher();
  for (const [key, value] of records) hasher.add(key, value);
  return Promise.resolve(hasher.digest());
}

/**
 * {@link hashRecords} written record by record, for inputs too large to hold: the same records give
 * the same hash either way.
 */
export class RecordHasher {
  readonly #hash = createHash("sha256");

  add(key: string, value: string): void {
    const body = encoder.encode(value);
    this.#hash.update(`${key}=${body.byteLength}:`);
    this.#hash.update(body);
    this.#hash.update(NEWLINE);
  }

  /** The hex digest; the hasher cannot be used afterwards. */
  digest(): string {
    return this.#hash.digest("hex");
  }
}

/** SHA-256 (hex) of a file's bytes, read as a stream. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  // Reading `readable` to its end closes the file.
  const file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/**
 * Version of the state-key layout; changing what a key covers must change this. v2: bases have 1 MB
 * WAL segments and the small-WAL settings (a container image's store dir does not show initdb options).
 * v3: bases have no superuser password and trust only their socket (states built on older bases hold
 * a password that works on every instance cloned from them).
 */
export const KEY_SCHEMA_VERSION = "sqlrs-state-key-v3";

/** What identifies the state one prepare step produces. */
export interface FingerprintInput {
  /** The base identity (first step) or the parent state id. */
  parent: string;
  kind: PrepareKindName;
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
