/**
 * Uploaded sources: the manifest a client sends (`POST /v1/sources`) and the state of one blob's
 * upload (`PUT /v1/sources/blobs/{sha256}`).
 *
 * @module
 */

import { z } from "../deps.ts";
import { typed } from "./_typed.ts";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "expected a 64-hex SHA-256");

/**
 * `POST /v1/sources`: each absolute client path with the SHA-256 of its bytes, or null for a path
 * the client has no file at (the engine then reports it missing as a local engine would).
 */
export interface SourceManifest {
  files: Record<string, string | null>;
}
/** `POST /v1/sources` body. */
export const SourceManifest: z.ZodType<SourceManifest> = typed<SourceManifest>()(z.strictObject({
  files: z.record(z.string().startsWith("/", "paths must be absolute"), Sha256.nullable()),
}));

/** The answer to `POST /v1/sources`: the tree's id and the hashes the engine has no blob of yet. */
export interface SourceManifestAccepted {
  source_id: string;
  missing: string[];
}
/** The answer to `POST /v1/sources`. */
export const SourceManifestAccepted: z.ZodType<SourceManifestAccepted> = typed<SourceManifestAccepted>()(
  z.object({ source_id: z.string(), missing: z.array(z.string()) }),
);

/** How much of a blob the engine holds: `received` bytes, and whether the blob is complete. */
export interface BlobUpload {
  sha256: string;
  received: number;
  complete: boolean;
}
/** The answer to `PUT /v1/sources/blobs/{sha256}`. */
export const BlobUpload: z.ZodType<BlobUpload> = typed<BlobUpload>()(
  z.object({ sha256: z.string(), received: z.number(), complete: z.boolean() }),
);
