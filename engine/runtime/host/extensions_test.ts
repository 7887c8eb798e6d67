import assert from "node:assert/strict";
import { join } from "node:path";
import { extensionsDigest } from "./extensions.ts";

/** A build whose pg_config names extension and library directories under a temp dir. */
async function fakeBuild(): Promise<{ bindir: string; extensionDir: string; libDir: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "sqlrs-ext-" });
  const bindir = join(dir, "bin");
  const extensionDir = join(dir, "share", "extension");
  const libDir = join(dir, "lib");
  for (const path of [bindir, extensionDir, libDir]) await Deno.mkdir(path, { recursive: true });
  await Deno.writeTextFile(
    join(bindir, "pg_config"),
    `#!/bin/sh\necho ${join(dir, "share")}\necho ${libDir}\n`,
    {
      mode: 0o755,
    },
  );
  await Deno.writeTextFile(join(extensionDir, "demo.control"), "default_version = '1.0'\n");
  await Deno.writeTextFile(
    join(extensionDir, "demo--1.0.sql"),
    "create function demo() returns int as 'select 1' language sql;\n",
  );
  await Deno.writeTextFile(join(libDir, "demo.so"), "v1");
  return { bindir, extensionDir, libDir, dir };
}

Deno.test("the extensions digest changes when an extension is upgraded, added or its library replaced", async () => {
  const { bindir, extensionDir, libDir, dir } = await fakeBuild();
  try {
    const first = await extensionsDigest(bindir);
    assert.equal(await extensionsDigest(bindir), first, "stable while nothing changes");

    // An upgrade as a package manager does it: new files renamed into place.
    await Deno.writeTextFile(join(extensionDir, "demo.control.new"), "default_version = '1.1'\n");
    await Deno.rename(join(extensionDir, "demo.control.new"), join(extensionDir, "demo.control"));
    const upgraded = await extensionsDigest(bindir);
    assert.notEqual(upgraded, first);

    await Deno.writeTextFile(join(libDir, "demo.so.new"), "v2 with another size");
    await Deno.rename(join(libDir, "demo.so.new"), join(libDir, "demo.so"));
    const relinked = await extensionsDigest(bindir);
    assert.notEqual(relinked, upgraded);

    await Deno.writeTextFile(join(extensionDir, "other.control"), "default_version = '2.0'\n");
    assert.notEqual(await extensionsDigest(bindir), relinked);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a build without pg_config has the digest 'unknown'", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sqlrs-ext-" });
  try {
    assert.equal(await extensionsDigest(dir), "unknown");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
