import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { BlobStore } from "./blob_store.ts";
import { SourceTrees } from "./source_trees.ts";
import { sweepSources, treeIdOf } from "./source_sweep.ts";

const DAY = 24 * 60 * 60 * 1000;

async function upload(blobs: BlobStore, text: string): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  const sha = createHash("sha256").update(bytes).digest("hex");
  await blobs.append(sha, 0, bytes.length, new Blob([bytes]).stream());
  return sha;
}

async function names(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name).sort();
  } catch {
    return [];
  }
}

Deno.test("sweepSources() keeps what a job uses or what is recent, and removes old unused uploads", async () => {
  const store = await Deno.makeTempDir();
  const dir = join(store, "sources");
  try {
    const blobs = new BlobStore(dir);
    const trees = new SourceTrees(dir, blobs);
    const used = await upload(blobs, "create table used(id int);\n");
    const unused = await upload(blobs, "create table unused(id int);\n");
    const a = await trees.register({ files: { "/w/a.sql": used } });
    const b = await trees.register({ files: { "/w/b.sql": unused } });
    const tree = await trees.materialize(a.source_id);
    await trees.materialize(b.source_id);
    await blobs.append("f".repeat(64), 0, 10, new Blob(["12345"]).stream());
    assert.equal(treeIdOf(join(tree.root, "w")), a.source_id);

    assert.equal(await sweepSources(dir, new Set()), 0, "everything is recent");
    const removed = await sweepSources(dir, new Set([a.source_id]), { now: Date.now() + 2 * DAY });
    assert.equal(removed, 4); // b's tree and manifest, its blob, the partial upload
    assert.deepEqual(await names(join(dir, "trees")), [a.source_id]);
    assert.deepEqual(await names(join(dir, "manifests")), [`${a.source_id}.json`]);
    assert.deepEqual(await names(join(dir, "blobs")), [used]);
    assert.deepEqual(await names(join(dir, "partial")), []);
    assert.equal(await Deno.readTextFile(join(tree.root, "w", "a.sql")), "create table used(id int);\n");
  } finally {
    await Deno.remove(store, { recursive: true });
  }
});
