/**
 * Client and engine versions (real engines, real CLIs): a CLI of another major version is refused
 * with a clear message (exit 3), and a CLI that finds an idle engine of another version replaces it.
 * The other version is a copy of this checkout whose deno.json says 99.0.0.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { VERSION } from "../shared/version.ts";
import { REPO, runProgram, Sandbox } from "./_sandbox.ts";

/** A copy of the sources whose version is `version`; returns its CLI entry point. */
async function copyWithVersion(dir: string, version: string): Promise<string> {
  for (const entry of ["cli", "client", "engine", "shared", "mod.ts", "deno.lock"]) {
    const code = (await new Deno.Command("cp", { args: ["-r", join(REPO, entry), dir] }).output()).code;
    assert.equal(code, 0, `cp ${entry}`);
  }
  const config = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json")));
  await Deno.writeTextFile(join(dir, "deno.json"), JSON.stringify({ ...config, version }, null, 2));
  return join(dir, "cli", "main.ts");
}

function otherCli(sandbox: Sandbox, cli: string, args: string[], env: Record<string, string> = {}) {
  return runProgram(Deno.execPath(), ["run", "-A", "--quiet", cli, ...args], {
    cwd: sandbox.dir,
    env: { ...sandbox.env, ...env },
  });
}

Deno.test("a CLI of another major version is refused by the engine with a clear message (exit 3)", async () => {
  await using sandbox = await Sandbox.create();
  const cli = await copyWithVersion(await Deno.makeTempDir({ dir: sandbox.dir }), "99.0.0");
  await sandbox.cliOk(["status"]);
  const info = (await sandbox.engineInfo())!;
  // An explicit endpoint: the CLI talks to this engine and no other.
  const result = await otherCli(sandbox, cli, ["ls"], {
    SQLRS_ENGINE_ADDR: info.endpoint,
    SQLRS_TOKEN: info.authToken,
  });
  assert.equal(result.code, 3, result.stderr);
  assert.match(
    result.stderr,
    new RegExp(`engine is sqlrs ${VERSION.replaceAll(".", "\\.")} and the client sqlrs 99\\.0\\.0`),
  );
  assert.match(result.stderr, /major versions differ/);
  // The engine's own version is served as before.
  await sandbox.cliOk(["ls"]);
});

Deno.test("a CLI that finds an idle engine of another version stops it and starts its own", async () => {
  await using sandbox = await Sandbox.create();
  const cli = await copyWithVersion(await Deno.makeTempDir({ dir: sandbox.dir }), "99.0.0");
  const started = await otherCli(sandbox, cli, ["status"]);
  assert.equal(started.code, 0, started.stderr);
  const old = (await sandbox.engineInfo())!;
  assert.equal(old.version, "99.0.0");
  await sandbox.cliOk(["status"]);
  const current = (await sandbox.engineInfo())!;
  assert.equal(current.version, VERSION);
  assert.notEqual(current.pid, old.pid);
});
