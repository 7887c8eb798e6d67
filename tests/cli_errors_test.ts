/**
 * The CLI's daily surface on real PostgreSQL: stdin read once for `-f -` and a run stage, id prefixes
 * (8+ hex everywhere ids are taken, shorter ones explained), one `sqlrs: ` error prefix, JSON errors on
 * stdout with `--output json`, and docker-like `rm` exit codes.
 */

import assert from "node:assert/strict";
import { Sandbox } from "./_sandbox.ts";

/** Every stderr line carries the one error prefix. */
function assertPrefixed(stderr: string): void {
  for (const line of stderr.trimEnd().split("\n")) assert.match(line, /^sqlrs: /, stderr);
}

Deno.test("prepare:psql -f - with a run stage: stdin is read once and both stages get it", async () => {
  await using sandbox = await Sandbox.create();
  const issue = await sandbox.cli(
    ["prepare:psql", "--", "-f", "-", "run:psql", "--", "-Atc", "select x from t2"],
    { stdin: "select 1 as x into t2;\n" },
  );
  assert.equal(issue.code, 0, issue.stderr);
  assert.equal(issue.stdout, "1\n");
  // The run stage reads stdin too (no -c/-f): it gets the same script the prepare stage ran.
  const both = await sandbox.cli(
    ["prepare:psql", "--", "-f", "-", "run:psql", "--", "-Atq"],
    { stdin: "create table if not exists t3 as select 2 as x;\nselect x from t3;\n" },
  );
  assert.equal(both.code, 0, both.stderr);
  assert.equal(both.stdout, "2\n");
  const listed = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "-i"])).stdout);
  assert.equal(listed.instances.length, 0, "the composite deletes its instances");
});

Deno.test("unknown refs exit 2, short hex prefixes ask for 8+, errors carry one prefix and go to stdout as JSON", async () => {
  await using sandbox = await Sandbox.create();
  const unknown = await sandbox.cli(["rm", "nosuchthing"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^sqlrs: Cannot delete "nosuchthing": no instance, state or job matches\n$/);
  assert.equal(unknown.stdout, "");

  const json = await sandbox.cli(["--output", "json", "rm", "ffffffffffff"]);
  assert.equal(json.code, 2);
  assert.deepEqual(JSON.parse(json.stdout), {
    error: { code: "not_found", message: 'Cannot delete "ffffffffffff": no instance, state or job matches' },
  });
  assertPrefixed(json.stderr);

  for (
    const args of [
      ["rm", "abcd"],
      ["watch", "abcd"],
      ["run:psql", "--instance", "abcd", "--", "-c", "select 1"],
    ]
  ) {
    const short = await sandbox.cli(args);
    assert.equal(short.code, 2, args.join(" "));
    assert.match(short.stderr, /"abcd" .*use 8 or more hex characters/, args.join(" "));
    assert.doesNotMatch(short.stderr, /not found/);
    assertPrefixed(short.stderr);
  }

  const usage = await sandbox.cli(["--output", "json", "rm"]);
  assert.equal(usage.code, 2);
  assert.equal(JSON.parse(usage.stdout).error.code, "invalid_argument");
  assertPrefixed(usage.stderr);
  const badOption = await sandbox.cli(["ls", "--bogus"]);
  assert.equal(badOption.code, 2);
  assert.match(badOption.stderr, /^sqlrs: unknown option '--bogus'/);
});

Deno.test("watch and rm take an 8+ hex prefix of a job id", async () => {
  await using sandbox = await Sandbox.create();
  const submitted = await sandbox.cliOk(["prepare:psql", "--no-watch", "--", "-c", "create table w(id int)"]);
  const jobId = /JOB_ID=([0-9a-f]+)/.exec(submitted.stdout)?.[1];
  assert.ok(jobId, submitted.stdout);
  const watched = await sandbox.cli(["--output", "json", "watch", jobId.slice(0, 8)]);
  assert.equal(watched.code, 0, watched.stderr);
  const result = JSON.parse(watched.stdout);
  assert.equal(result.job_id, jobId);
  await sandbox.cliOk(["rm", result.instance_id.slice(0, 8)]);
  const removed = await sandbox.cliOk(["--output", "json", "rm", jobId.slice(0, 10)]);
  assert.equal(JSON.parse(removed.stdout).root.kind, "job");
  assert.equal(JSON.parse(removed.stdout).outcome, "deleted");
  assert.equal((await sandbox.cli(["watch", jobId])).code, 2, "the job is gone");
});

Deno.test("cache explain of a command it cannot explain is a usage error (exit 2)", async () => {
  await using sandbox = await Sandbox.create();
  const result = await sandbox.cli(["cache", "explain", "run:psql", "--", "-c", "select 1"]);
  assert.equal(result.code, 2, result.stderr + result.stdout);
  assert.match(result.stderr + result.stdout, /cache explain supports prepare:psql and prepare:lb/);
});
