/**
 * The README's install for a user whose only Deno comes from npm (`npx -y deno@…`): `deno task
 * install-cli` writes a `sqlrs` that works in a shell with no `deno` on PATH (run from a directory
 * outside the checkout, on real PostgreSQL), and falls back to npx when that Deno is gone.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO, runProgram, Sandbox } from "./_sandbox.ts";
import { launcher } from "../scripts/install_cli.ts";

/** A PATH with the system's tools and no deno. */
const SYSTEM_PATH = "/usr/bin:/bin";

Deno.test("install-cli gives a sqlrs that prepares and runs with no deno on PATH", async () => {
  await using sandbox = await Sandbox.create();
  const bin = join(sandbox.dir, "bin");
  const installed = await runProgram(Deno.execPath(), [
    "run",
    "-A",
    join(REPO, "scripts", "install_cli.ts"),
    "--bin",
    bin,
  ], {
    cwd: sandbox.dir,
    env: { PATH: SYSTEM_PATH },
  });
  assert.equal(installed.code, 0, installed.stderr);
  assert.match(installed.stdout, new RegExp(`installed ${bin}/sqlrs\\n${bin} is not on PATH`));
  const env = { ...sandbox.env, PATH: SYSTEM_PATH };
  const noDeno = await runProgram("/bin/sh", ["-c", "command -v deno"], { cwd: sandbox.dir, env });
  assert.notEqual(noDeno.code, 0, `deno is on ${SYSTEM_PATH}: ${noDeno.stdout}`);
  const sqlrs = join(bin, "sqlrs");
  const used = await runProgram(sqlrs, [
    "prepare:psql",
    "--",
    "-c",
    "select 1",
    "run:psql",
    "--",
    "-Atc",
    "select 40 + 2",
  ], {
    cwd: sandbox.dir,
    env,
  });
  assert.equal(used.code, 0, used.stderr);
  assert.equal(used.stdout, "42\n");
});

Deno.test("the installed sqlrs runs Deno through npx when the Deno that installed it is gone", async () => {
  await using sandbox = await Sandbox.create();
  const bin = join(sandbox.dir, "bin");
  await Deno.mkdir(bin);
  const script = join(bin, "sqlrs");
  await Deno.writeTextFile(
    script,
    launcher(join(sandbox.dir, "gone", "deno"), "2.9.6", "/opt/sqlrs/cli/main.ts"),
    {
      mode: 0o755,
    },
  );
  // A stand-in npx that shows how it was called.
  await Deno.writeTextFile(join(bin, "npx"), '#!/bin/sh\nprintf "%s|" "$@"\n', { mode: 0o755 });
  const result = await runProgram(script, ["ls", "it's"], {
    cwd: sandbox.dir,
    env: { PATH: `${bin}:${SYSTEM_PATH}` },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "-y|deno@2.9.6|run|-A|--quiet|/opt/sqlrs/cli/main.ts|ls|it's|");
});

Deno.test("deno task sqlrs resolves -f against the caller's directory, not the repository's", async () => {
  await using sandbox = await Sandbox.create();
  await Deno.writeTextFile(join(sandbox.dir, "here.sql"), "create table here as select 'mine' as v;\n");
  // deno task (like npm) keeps an INIT_CWD it inherits: this test's runner may have one of its own.
  const result = await runProgram(
    "/usr/bin/env",
    [
      "-u",
      "INIT_CWD",
      Deno.execPath(),
      "task",
      "--quiet",
      "--config",
      join(REPO, "deno.json"),
      "sqlrs",
      "prepare:psql",
      "--",
      "-f",
      "here.sql",
      "run:psql",
      "--",
      "-Atc",
      "select v from here",
    ],
    { cwd: sandbox.dir, env: sandbox.env },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "mine\n");
});
