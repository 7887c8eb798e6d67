/**
 * Public `https://` URLs given as a prepare's inputs (psql's `-f` files): the engine fetches each
 * (https only, so that the content cannot be changed in transit), keeps it as a blob keyed by its
 * SHA-256, and the job reads that blob. State keys hash content, so a URL serving the same bytes as a
 * local file keys the same.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import type { PrepareJobRequest } from "../../shared/schemas.ts";
import { randomHex } from "../../shared/random.ts";
import { fetchFileUrl } from "../../shared/url_input.ts";
import { prepareKindOf } from "../prepare/kinds.ts";
import type { BlobStore } from "./blob_store.ts";

/** The request with each URL input (psql's `-f URL`) replaced by the path of the fetched content's blob. */
export async function fetchUrlInputs(
  request: PrepareJobRequest,
  blobs: BlobStore,
  options: { timeoutMs?: number } = {},
): Promise<PrepareJobRequest> {
  const withUrlInputs = prepareKindOf(request).withUrlInputs;
  if (withUrlInputs === undefined) return request;
  return await withUrlInputs(
    request,
    async (url) => blobs.path(await fetchInto(url, blobs, options.timeoutMs ?? 60_000)),
  );
}

/** Fetches `url` into the blob store; returns the content's SHA-256. */
async function fetchInto(url: string, blobs: BlobStore, timeoutMs: number): Promise<string> {
  const response = await fetchFileUrl(url, timeoutMs);
  const temp = join(blobs.incomingDir, `fetch-${randomHex(8)}`);
  await Deno.mkdir(blobs.incomingDir, { recursive: true });
  const hash = createHash("sha256");
  try {
    {
      using file = await Deno.open(temp, { create: true, write: true });
      for await (const chunk of response.body) {
        hash.update(chunk);
        let written = 0;
        while (written < chunk.byteLength) written += await file.write(chunk.subarray(written));
      }
    }
    const sha256 = hash.digest("hex");
    await blobs.adopt(temp, sha256);
    return sha256;
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
}
