/**
 * Public `https://` URLs given as psql `-f` files: the engine fetches each (https only, so that the
 * content cannot be changed in transit), keeps it as a blob keyed by its SHA-256, and the job reads
 * that blob. State keys hash content, so a URL serving the same bytes as a local file keys the same.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import type { PrepareJobRequest } from "../../shared/schemas.ts";
import { randomHex } from "../../shared/random.ts";
import { renderToken, tokenize } from "../../shared/tool_options.ts";
import { fetchFileUrl, isUrlInput } from "../../shared/url_input.ts";
import type { BlobStore } from "./blob_store.ts";

/** The request with each `-f URL` replaced by the path of the fetched content's blob. */
export async function fetchUrlInputs(
  request: PrepareJobRequest,
  blobs: BlobStore,
  options: { timeoutMs?: number } = {},
): Promise<PrepareJobRequest> {
  if (request.prepare_kind !== "psql" || !request.psql_args.some((arg) => arg.includes("://"))) {
    return request;
  }
  const psql_args: string[] = [];
  for (const token of tokenize("psql", request.psql_args)) {
    const file = token.kind === "option" && token.option.name === "file" ? token.value : null;
    if (file !== null && isUrlInput(file)) {
      psql_args.push("-f", blobs.path(await fetchInto(file, blobs, options.timeoutMs ?? 60_000)));
    } else psql_args.push(...renderToken(token));
  }
  return { ...request, psql_args };
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
