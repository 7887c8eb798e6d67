/**
 * Uploads what a prepare reads to an engine that cannot read the client's files: a manifest (path →
 * SHA-256) of the files the client knows goes first, then the blobs the engine lacks, in chunks that
 * resume where the engine's copy stops; the job is submitted against the manifest, and a file the
 * engine found it needs meanwhile (an `\ir` include, a `\copy` file) extends the manifest and the
 * job is submitted again.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { SqlrsError } from "../../shared/errors.ts";
import type { PrepareJobRequest } from "../../shared/schemas.ts";
import { prepareKindSpec } from "../../shared/prepare_kinds.ts";
import type { EngineClient } from "../engine_client.ts";

/** What an upload sent: the files whose bytes went (in part) to the engine, and those bytes. */
export interface UploadStats {
  files: number;
  bytes: number;
}

/** Bytes per `PUT`: an interrupted upload loses at most this much. */
export const CHUNK_BYTES = 8 * 1024 * 1024;

/** SHA-256 of a file's bytes, or null when there is no regular file at `path`. */
async function hashFile(path: string): Promise<string | null> {
  let file: Deno.FsFile;
  try {
    if (!(await Deno.stat(path)).isFile) return null;
    file = await Deno.open(path);
  } catch {
    return null;
  }
  const hash = createHash("sha256");
  // Reading `readable` to its end closes the file.
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/**
 * Submits a prepare whose files are uploaded first.
 * @throws {SqlrsError} what the engine answers, or `source_inputs_missing` when it asks again for
 * files it was sent
 */
export async function submitUploading<T extends object>(
  client: EngineClient,
  request: PrepareJobRequest,
  submit: (request: PrepareJobRequest) => Promise<T>,
): Promise<T & { upload: UploadStats }> {
  const manifest = new Map<string, string | null>();
  const stats: UploadStats = { files: 0, bytes: 0 };
  let wanted = await prepareKindSpec(request.prepare_kind).uploadFiles(request);
  for (;;) {
    for (const path of wanted) manifest.set(path, await hashFile(path));
    const { source_id, missing } = await client.registerSources({ files: Object.fromEntries(manifest) });
    for (const sha256 of missing) {
      const path = [...manifest].find(([, hash]) => hash === sha256)?.[0];
      if (path === undefined) {
        throw new SqlrsError("internal_error", `The engine asked for unknown blob ${sha256}`);
      }
      const sent = await uploadBlob(client, path, sha256);
      if (sent !== null) {
        stats.files++;
        stats.bytes += sent;
      }
    }
    try {
      return { ...await submit({ ...request, source_id }), upload: stats };
    } catch (error) {
      if (!(error instanceof SqlrsError) || error.code !== "source_inputs_missing") throw error;
      const paths = error.details?.paths;
      wanted = Array.isArray(paths)
        ? paths.filter((path) => typeof path === "string" && !manifest.has(path))
        : [];
      if (wanted.length === 0) throw error;
    }
  }
}

/**
 * Sends the bytes of `path` the engine does not hold yet; returns how many, or null when the engine
 * had the whole blob already.
 */
async function uploadBlob(client: EngineClient, path: string, sha256: string): Promise<number | null> {
  let status = await client.blobStatus(sha256);
  if (status.complete) return null;
  using file = await Deno.open(path);
  const size = (await file.stat()).size;
  const buffer = new Uint8Array(Math.min(CHUNK_BYTES, Math.max(size, 1)));
  let sent = 0;
  let stalls = 0;
  while (!status.complete) {
    const offset = status.received;
    await file.seek(offset, Deno.SeekMode.Start);
    const length = await readFull(file, buffer.subarray(0, Math.min(buffer.length, size - offset)));
    let ours = true;
    try {
      status = await client.putBlobChunk(sha256, offset, size, buffer.slice(0, length));
    } catch (error) {
      // A chunk cut short (a timeout on a slow link, a dropped connection) or held by another upload of
      // the blob: the engine keeps what it got, so ask where the upload stands and go on from there.
      const code = error instanceof SqlrsError ? error.code : undefined;
      if ((code !== "conflict" && code !== "unavailable") || ++stalls > 20) throw error;
      ours = code === "unavailable";
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = await client.blobStatus(sha256);
    }
    if (status.received > offset) {
      stalls = 0;
      if (ours) sent += status.received - offset;
    }
  }
  return sent;
}

/** Reads until `into` is full or the file ends; returns the bytes read. */
async function readFull(file: Deno.FsFile, into: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < into.length) {
    const read = await file.read(into.subarray(filled));
    if (read === null) break;
    filled += read;
  }
  return filled;
}
