/**
 * What the CLI tells people, from a directory outside the checkout: `prepare:psql --help` (what is
 * enforced, the DSN= output, chaining run:psql), `--no-watch` (how to follow the job), an unknown
 * option before `--` (a sqlrs option, with where tool args go), and psql args without `--`.
 */

import assert from "node:assert/strict";
import { Sandbox } from "./_sandbox.ts";

Deno.test("prepare:psql --help tells what is enforced, what it prints and how to chain run:psql", async () => {
  await using sandbox = await Sandbox.create();
  const help = (await sandbox.cliOk(["prepare:psql", "--help"])).stdout;
  assert.match(help, /psql -X -v ON_ERROR_STOP=1/);
  assert.match(help, /options that connect\s+elsewhere \(-h, -p, -U, -d\).* are refused/s);
  assert.match(help, /Prints DSN=postgres:\/\//);
  assert.match(help, /sqlrs prepare:psql -- -f schema\.sql run:psql -- -c/);
  assert.match(help, /--deadline <duration>/);
});

Deno.test("--no-watch prints the job id and how to follow it with sqlrs watch", async () => {
  await using sandbox = await Sandbox.create();
  const submitted = await sandbox.cliOk(["prepare:psql", "--no-watch", "--", "-c", "select 1"]);
  const jobId = /^JOB_ID=([0-9a-f]{32})$/.exec(submitted.stdout.trim())?.[1];
  assert.ok(jobId, submitted.stdout);
  assert.equal(submitted.stderr, `follow it with "sqlrs watch ${jobId}"\n`);
  assert.equal((await sandbox.cli(["watch", jobId])).code, 0);
});

Deno.test("an unknown option before -- is an unknown sqlrs option; psql args without -- get a clear error", async () => {
  await using sandbox = await Sandbox.create();
  const bogus = await sandbox.cli(["prepare:psql", "--bogus", "--", "-c", "select 1"]);
  assert.equal(bogus.code, 2);
  assert.match(bogus.stderr, /^sqlrs: unknown option '--bogus'; tool arguments go after "--"/);
  const withoutDashes = await sandbox.cli(["--output", "json", "prepare:psql", "-f", "a.sql"]);
  assert.equal(withoutDashes.code, 2);
  assert.match(
    JSON.parse(withoutDashes.stdout).error.message,
    /^unknown option '-f'; tool arguments go after "--", as in: sqlrs prepare:psql \[flags\] -- -f schema\.sql$/,
  );
  // After "--" everything is psql's: an option psql does not know is psql's to refuse.
  const afterDashes = await sandbox.cli(["prepare:psql", "--", "--bogus"]);
  assert.equal(afterDashes.code, 2);
  assert.match(afterDashes.stderr, /Unsupported psql option "--bogus"/);
});
