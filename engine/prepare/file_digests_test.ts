import assert from "node:assert/strict";
import { join } from "node:path";
import { fileDigest } from "./file_digests.ts";
import { sha256File } from "./fingerprint.ts";

Deno.test("fileDigest() follows a rewrite that keeps the size and the mtime of a remembered file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "schema.sql");
    await Deno.writeTextFile(path, "create table a(id int);");
    const past = new Date(Date.now() - 60_000);
    await Deno.utime(path, past, past);
    // Past the racy window of the utime's ctime: the digest is remembered from here on.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const first = await fileDigest(path);
    assert.equal(first, await sha256File(path));
    assert.equal(await fileDigest(path), first);
    await Deno.writeTextFile(path, "create table b(id int);");
    await Deno.utime(path, past, past);
    const second = await fileDigest(path);
    assert.notEqual(second, first);
    assert.equal(second, await sha256File(path));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileDigest() hashes again a file changed right after it was hashed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "seed.sql");
    await Deno.writeTextFile(path, "insert 1");
    const first = await fileDigest(path);
    await Deno.writeTextFile(path, "insert 2");
    assert.notEqual(await fileDigest(path), first);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
