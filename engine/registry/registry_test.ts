import assert from "node:assert/strict";
import { join } from "node:path";
import { SqlrsError } from "../../shared/errors.ts";
import { Registry } from "./registry.ts";

async function mountTmpfs(dir: string, size: string): Promise<boolean> {
  const output = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
  })
    .output();
  return output.success;
}

/** Writes zeros into `file` until the filesystem has no room left. */
async function fill(file: string): Promise<void> {
  using handle = await Deno.open(file, { create: true, write: true });
  const chunk = new Uint8Array(64 * 1024);
  try {
    while (true) await handle.write(chunk);
  } catch (error) {
    if (!(error instanceof Error) || !/No space left/i.test(error.message)) throw error;
  }
}

Deno.test({
  name: "Registry.transaction() surfaces a full disk, not a failed ROLLBACK",
  // Mounting the small tmpfs needs root; under CI=true the test never skips.
  ignore: Deno.uid() !== 0 && Deno.env.get("CI") !== "true",
  fn: testFullDisk,
});

async function testFullDisk(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sqlrs-registry-full-" });
  assert.ok(await mountTmpfs(dir, "2m"), "mount tmpfs");
  try {
    const registry = new Registry(join(dir, "state.db"));
    try {
      await fill(join(dir, "filler"));
      const error = (() => {
        try {
          registry.transaction(() => registry.setMeta("big", "x".repeat(1024 * 1024)));
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      assert.ok(error instanceof SqlrsError, `expected a SqlrsError, got ${error}`);
      assert.equal(error.code, "unavailable");
      assert.match(error.message, /disk is full: cannot write .*state\.db/);
      // The registry is still usable once there is room again.
      await Deno.remove(join(dir, "filler"));
      registry.transaction(() => registry.setMeta("small", "ok"));
      assert.equal(registry.getMeta("small"), "ok");
    } finally {
      registry.close();
    }
  } finally {
    await new Deno.Command("umount", { args: [dir] }).output();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Registry.transaction() nested: a failing inner one undoes only its own writes", async () => {
  const dir = await Deno.makeTempDir();
  const registry = new Registry(join(dir, "metadata.db"));
  try {
    registry.transaction(() => {
      registry.setMeta("outer", "kept");
      assert.throws(() =>
        registry.transaction(() => {
          registry.setMeta("inner", "undone");
          throw new Error("inner fails");
        }), /inner fails/);
      registry.transaction(() => registry.setMeta("second", "kept"));
    });
    assert.equal(registry.getMeta("outer"), "kept");
    assert.equal(registry.getMeta("inner"), undefined);
    assert.equal(registry.getMeta("second"), "kept");
    // A failing outer transaction undoes its inner ones too.
    assert.throws(() =>
      registry.transaction(() => {
        registry.transaction(() => registry.setMeta("inner2", "undone"));
        throw new Error("outer fails");
      }), /outer fails/);
    assert.equal(registry.getMeta("inner2"), undefined);
  } finally {
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
});
