/**
 * Progress of a prepare as people see it, on real PostgreSQL, from a directory outside the checkout:
 * on a pseudo-terminal a live line per running step (its file, n/m, its own time), finished steps
 * and a cached/ran summary, in colour unless NO_COLOR; off a terminal one plain line per finished
 * step on stderr; `-v` adds the phases of each kept state.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Sandbox } from "./_sandbox.ts";
import { hasScript, TerminalCli } from "./_terminal.ts";
import { need, testNeeding } from "./_needs.ts";

// deno-lint-ignore no-control-regex -- ANSI colour codes
const COLOUR = /\x1b\[[0-9;]*m/;

async function scripts(sandbox: Sandbox): Promise<string> {
  const dir = join(sandbox.dir, "db");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(join(dir, "schema.sql"), "create table t(id int);\n");
  await Deno.writeTextFile(join(dir, "slow.sql"), "select pg_sleep(2);\ninsert into t values (1);\n");
  return sandbox.dir;
}

testNeeding(need(hasScript, "util-linux script"), {
  name:
    "on a terminal: a live line per running step with its file, n/m and time; a summary; colour unless NO_COLOR",
  fn: async () => {
    await using sandbox = await Sandbox.create();
    const cwd = await scripts(sandbox);
    const first = new TerminalCli(
      sandbox,
      ["prepare:psql", "--", "-f", "db/schema.sql", "-f", "db/slow.sql"],
      {
        cwd,
      },
    );
    // The slow step's live line, with its own time running (not the job's).
    const live = await first.waitFor(/\[2\/2\] db\/slow\.sql {2}\S*\d\.\ds/);
    await first.waitFor(/\[2\/2\] db\/slow\.sql {2}\S*[1-9]\.\ds/, live);
    assert.equal(await first.exit(), 0, first.screen);
    // deno-lint-ignore no-control-regex -- ANSI colour codes
    const plain = first.screen.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
    assert.match(plain, /ran +\[1\/2\] db\/schema\.sql \d+\.\ds/);
    assert.match(plain, /ran +\[2\/2\] db\/slow\.sql [2-9]\.\ds/);
    assert.match(plain, /2 steps: 0 cached, 2 ran in \d+\.\ds; ready in \d+\.\ds/);
    assert.match(plain, /DSN=postgres:\/\//);
    assert.match(first.screen, COLOUR);

    const second = new TerminalCli(sandbox, [
      "prepare:psql",
      "--",
      "-f",
      "db/schema.sql",
      "-f",
      "db/slow.sql",
    ], {
      cwd,
      env: { NO_COLOR: "1" },
    });
    assert.equal(await second.exit(), 0, second.screen);
    assert.doesNotMatch(second.screen, COLOUR);
    assert.match(second.screen, /cached +\[1\/2\] db\/schema\.sql/);
    assert.match(second.screen, /cached +\[2\/2\] db\/slow\.sql/);
    assert.match(second.screen, /2 steps: 2 cached, 0 ran; ready in/);
  },
});

Deno.test("off a terminal: one plain line per finished step on stderr, then the summary; -v adds phases", async () => {
  await using sandbox = await Sandbox.create();
  const cwd = await scripts(sandbox);
  const args = ["prepare:psql", "--", "-f", "db/schema.sql", "-c", "insert into t values (2)"];
  const first = await sandbox.cli(args, { cwd });
  assert.equal(first.code, 0, first.stderr);
  const lines = first.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 3, first.stderr);
  assert.match(lines[0] as string, /^ran +\[1\/2\] db\/schema\.sql \d+\.\ds$/);
  assert.match(lines[1] as string, /^ran +\[2\/2\] -c 'insert into t values \(2\)' \d+\.\ds$/);
  assert.match(lines[2] as string, /^2 steps: 0 cached, 2 ran in \d+\.\ds; ready in \d+\.\ds$/);
  // deno-lint-ignore no-control-regex -- no terminal codes off a terminal
  assert.doesNotMatch(first.stderr, /[\x1b\r]/);
  assert.match(first.stdout, /^DSN=/);

  // A plan runs no step: nothing to report on stderr.
  const planned = await sandbox.cli(["plan:psql", ...args.slice(1)], { cwd });
  assert.equal(planned.code, 0, planned.stderr);
  assert.equal(planned.stderr, "");

  const failed = await sandbox.cli(["prepare:psql", "--", "-f", "db/schema.sql", "-c", "select 1/0"], {
    cwd,
  });
  assert.equal(failed.code, 1);
  assert.match(
    failed.stderr,
    /^cached +\[1\/2\] db\/schema\.sql\nfailed +\[2\/2\] -c 'select 1\/0' \d+\.\ds\n/,
  );
  // The error names the step as the progress does, not by the engine's task id.
  assert.match(
    failed.stderr,
    /^sqlrs: Step 2 of 2 \(-c 'select 1\/0'\) failed: psql exited with code 1\n[\s\S]*division by zero/m,
  );
  assert.doesNotMatch(failed.stderr, /steps:/);

  const verbose = await sandbox.cli(["-v", "prepare:psql", "--", "-f", "db/schema.sql", "-c", "select 3"], {
    cwd,
  });
  assert.equal(verbose.code, 0, verbose.stderr);
  assert.match(verbose.stderr, /execute-1: took .*run/);
  assert.match(verbose.stderr, /ran +\[2\/2\] -c 'select 3'/);
});
