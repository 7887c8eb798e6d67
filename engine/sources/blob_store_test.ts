import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { SqlrsError } from "../../shared/errors.ts";
import { BlobStore } from "./blob_store.ts";

function streamOf(bytes: Uint8Array<ArrayBuffer>): ReadableStream<Uint8Array<ArrayBuffer>> {
  return new Blob([bytes]).stream();
}

async function withStore(fn: (store: BlobStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(new BlobStore(dir), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const bytes = new TextEncoder().encode("create table t(id int);\n");
const sha = createHash("sha256").update(bytes).digest("hex");

Deno.test("BlobStore.append() completes a blob from chunks and checks its hash", async () => {
  await withStore(async (store) => {
    assert.deepEqual(await store.status(sha), { sha256: sha, received: 0, complete: false });
    const first = await store.append(sha, 0, bytes.length, streamOf(bytes.slice(0, 10)));
    assert.deepEqual(first, { sha256: sha, received: 10, complete: false });
    assert.deepEqual(await store.status(sha), first);
    const done = await store.append(sha, 10, bytes.length, streamOf(bytes.slice(10)));
    assert.deepEqual(done, { sha256: sha, received: bytes.length, complete: true });
    assert.deepEqual(await Deno.readFile(store.path(sha)), bytes);
    assert.equal((await Deno.stat(store.path(sha))).mode! & 0o777, 0o400);
  });
});

Deno.test("BlobStore.append() refuses a chunk at another offset than the upload reached", async () => {
  await withStore(async (store) => {
    await store.append(sha, 0, bytes.length, streamOf(bytes.slice(0, 10)));
    await assert.rejects(
      store.append(sha, 4, bytes.length, streamOf(bytes.slice(4))),
      (error: unknown) =>
        error instanceof SqlrsError && error.code === "conflict" && error.details?.received === 10,
    );
  });
});

Deno.test("BlobStore.append() drops bytes that do not hash to the blob's name", async () => {
  await withStore(async (store, dir) => {
    const wrong = new TextEncoder().encode("drop table t;\n");
    await assert.rejects(
      store.append(sha, 0, wrong.length, streamOf(wrong)),
      (error: unknown) => error instanceof SqlrsError && error.code === "invalid_argument",
    );
    assert.deepEqual(await store.status(sha), { sha256: sha, received: 0, complete: false });
    assert.deepEqual([...Deno.readDirSync(join(dir, "partial"))], []);
  });
});
