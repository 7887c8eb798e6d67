/**
 * Blobs of uploaded sources under `<store>/sources/`, keyed by the SHA-256 of their bytes. A blob is
 * uploaded in chunks, each appended at the offset the engine has reached (`partial/<sha256>`), so a
 * broken upload continues where it stopped; once all bytes are in, the hash is checked and the blob
 * moves to `blobs/<sha256>`, read-only (owner-only; trees link to it).
 *
 * @module
 */

import { join } from "node:path";
import { invalidArgument, SqlrsError } from "../../shared/errors.ts";
import type { BlobUpload } from "../../shared/schemas.ts";
import { sha256File } from "../prepare/fingerprint.ts";

const SHA256 = /^[0-9a-f]{64}$/;

/** Content-addressed blobs with resumable uploads. */
export class BlobStore {
  readonly #blobs: string;
  readonly #partial: string;
  /** Blobs with a chunk being written: a second writer would interleave bytes. */
  readonly #writing = new Set<string>();

  constructor(sourcesDir: string) {
    this.#blobs = join(sourcesDir, "blobs");
    this.#partial = join(sourcesDir, "partial");
  }

  /** The file of a complete blob. */
  path(sha256: string): string {
    return join(this.#blobs, checked(sha256));
  }

  async has(sha256: string): Promise<boolean> {
    return await size(this.path(sha256)) !== null;
  }

  /** Marks a blob as just used (its mtime is now); false when there is no such blob. */
  async touch(sha256: string): Promise<boolean> {
    const now = new Date();
    try {
      await Deno.utime(this.path(sha256), now, now);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  /** How many bytes of a blob the engine holds. */
  async status(sha256: string): Promise<BlobUpload> {
    const complete = await size(this.path(sha256));
    if (complete !== null) return { sha256, received: complete, complete: true };
    return { sha256, received: await size(join(this.#partial, sha256)) ?? 0, complete: false };
  }

  /**
   * Appends `body` at `offset` to a blob of `total` bytes; when all bytes are in, checks their hash.
   * @throws {SqlrsError} `conflict` when `offset` is not where the upload stands (its details say
   * `received`) or another chunk of the blob is being written; `invalid_argument` when the bytes
   * exceed `total` or do not hash to `sha256` (the partial upload is dropped)
   */
  async append(
    sha256: string,
    offset: number,
    total: number,
    body: ReadableStream<Uint8Array> | null,
  ): Promise<BlobUpload> {
    checked(sha256);
    const current = await this.status(sha256);
    if (current.complete) {
      await body?.cancel();
      return current;
    }
    if (this.#writing.has(sha256) || offset !== current.received) {
      await body?.cancel();
      throw new SqlrsError(
        "conflict",
        this.#writing.has(sha256)
          ? `Blob ${sha256} is being uploaded by another request`
          : `Blob ${sha256}: the upload stands at byte ${current.received}, not ${offset}`,
        { details: { received: current.received } },
      );
    }
    this.#writing.add(sha256);
    try {
      const received = await this.#write(sha256, offset, total, body);
      if (received < total) return { sha256, received, complete: false };
      return await this.#complete(sha256, total);
    } finally {
      this.#writing.delete(sha256);
    }
  }

  async #write(
    sha256: string,
    offset: number,
    total: number,
    body: ReadableStream<Uint8Array> | null,
  ): Promise<number> {
    await Deno.mkdir(this.#partial, { recursive: true });
    const file = await Deno.open(join(this.#partial, sha256), { create: true, append: true });
    let received = offset;
    try {
      // Written as it arrives: the bytes of a chunk cut short stay, and the next upload goes on after them.
      for await (const chunk of body ?? []) {
        received += chunk.byteLength;
        if (received > total) throw invalidArgument(`Blob ${sha256}: more than the ${total} bytes announced`);
        let written = 0;
        while (written < chunk.byteLength) written += await file.write(chunk.subarray(written));
      }
    } finally {
      file.close();
    }
    return received;
  }

  async #complete(sha256: string, total: number): Promise<BlobUpload> {
    const partial = join(this.#partial, sha256);
    const actual = await sha256File(partial);
    if (actual !== sha256) {
      await Deno.remove(partial);
      throw invalidArgument(`Blob ${sha256}: the uploaded bytes hash to ${actual}; upload it again`);
    }
    await this.adopt(partial, sha256);
    return { sha256, received: total, complete: true };
  }

  /** Where files are written before they become blobs (on the blobs' filesystem, for the rename). */
  get incomingDir(): string {
    return this.#partial;
  }

  /** Moves a file whose bytes hash to `sha256` into place as that blob. */
  async adopt(file: string, sha256: string): Promise<void> {
    // Owner-only like the rest of the store: no server (COPY … FROM a path) can read the sources.
    await Deno.chmod(file, 0o400);
    await Deno.mkdir(this.#blobs, { recursive: true });
    await Deno.rename(file, this.path(sha256));
  }
}

function checked(sha256: string): string {
  if (!SHA256.test(sha256)) throw invalidArgument(`Invalid blob hash "${sha256}": expected 64 hex digits`);
  return sha256;
}

async function size(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}
