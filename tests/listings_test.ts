/**
 * Listings people can read, on real PostgreSQL: `ls -s` shows each state's own step (file and short
 * hash of its arguments) in a tree that indents only at branches, cut to the width (full with
 * `--long` and in JSON); `ls -j` an overview of each job's arguments; `cache explain` the misses and
 * a count of hits unless `--all`; `status --output json` in snake_case like every other listing.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Sandbox } from "./_sandbox.ts";

async function files(sandbox: Sandbox): Promise<void> {
  for (const name of ["a", "b", "c", "d"]) {
    await Deno.writeTextFile(join(sandbox.dir, `${name}.sql`), `create table ${name}(id int);\n`);
  }
}

Deno.test("ls -s: each state's own step and a short hash, a tree indented only at branches, cut to the width", async () => {
  await using sandbox = await Sandbox.create();
  await files(sandbox);
  for (const args of [["-f", "a.sql"], ["-f", "a.sql", "-f", "b.sql"], ["-f", "a.sql", "-f", "c.sql"]]) {
    await sandbox.cliOk(["prepare:psql", "--", ...args]);
  }
  await sandbox.cliOk(["prepare:psql", "--", "-f", "a.sql", "-f", "b.sql", "-f", "d.sql"]);
  const listed = await sandbox.cliOk(["ls", "-s", "-q"], { env: { COLUMNS: "200" } });
  const rows = listed.stdout.trimEnd().split("\n").slice(1);
  const tree = rows.map((row) => {
    const match = /^([`+| -]*)[0-9a-f]{12} .* (\S+\.sql) #([0-9a-f]{8})$/.exec(row);
    assert.ok(match, `row ${JSON.stringify(row)} in\n${rows.join("\n")}`);
    return `${match[1]}${match[2]}`;
  });
  // a.sql has two children (b, c); b's only child d stays in b's column.
  assert.deepEqual(tree, ["a.sql", "+-b.sql", "| `-d.sql", "`-c.sql"]);

  const narrow = (await sandbox.cliOk(["ls", "-s", "-q"], { env: { COLUMNS: "70" } })).stdout.split("\n");
  assert.ok(narrow.every((row) => row.length <= 70), narrow.join("\n"));
  assert.ok(narrow.some((row) => row.endsWith("…")), narrow.join("\n"));
  const long = (await sandbox.cliOk(["ls", "-s", "-q", "--long"], { env: { COLUMNS: "60" } })).stdout;
  assert.match(long, new RegExp(`d\\.sql #[0-9a-f]{8}: -f ${join(sandbox.dir, "d.sql")} \\(prepare: -f `));

  const states = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "-s"])).stdout).states;
  const d = states.find((state: { step: { label: string } | null }) => state.step?.label === "d.sql");
  assert.equal(d.step.args, `-f ${join(sandbox.dir, "d.sql")}`);
  assert.match(d.step.hash, /^[0-9a-f]{8}$/);
  assert.match(d.prepare_args_normalized, /a\.sql.*b\.sql.*d\.sql/);

  const jobs = (await sandbox.cliOk(["ls", "-j", "-q"])).stdout;
  assert.match(jobs, new RegExp(`-f ${join(sandbox.dir, "a.sql")} … \\(3 steps\\)$`, "m"));
});

Deno.test("cache explain lists the misses and counts the hits; --all lists every step", async () => {
  await using sandbox = await Sandbox.create();
  await files(sandbox);
  await sandbox.cliOk(["prepare:psql", "--", "-f", "a.sql", "-f", "b.sql"]);
  await Deno.writeTextFile(join(sandbox.dir, "b.sql"), "create table b(id bigint);\n");
  const args = ["cache", "explain", "prepare:psql", "--", "-f", "a.sql", "-f", "b.sql", "-f", "c.sql"];
  const misses = (await sandbox.cliOk(args)).stdout;
  assert.match(misses, /^1 of 3 steps cached \(not listed; --all lists them\)$/m);
  assert.doesNotMatch(misses, /^execute-0 /m);
  assert.match(misses, /^execute-1 +miss .*b\.sql changed/m);
  assert.match(misses, /^execute-2 +miss /m);
  const all = (await sandbox.cliOk(["cache", "explain", "--all", ...args.slice(2)])).stdout;
  assert.match(all, /^1 of 3 steps cached$/m);
  assert.match(all, /^execute-0 +hit /m);
});

Deno.test("status --output json uses snake_case keys like every other listing", async () => {
  await using sandbox = await Sandbox.create();
  const text = (await sandbox.cliOk(["--output", "json", "status", "--cache"])).stdout;
  const keys = [...text.matchAll(/"([^"]+)":/g)].map((match) => match[1] as string);
  assert.deepEqual(keys.filter((key) => /[A-Z]/.test(key)), []);
  const status = JSON.parse(text);
  assert.equal(status.state_dir, sandbox.stateDir);
  assert.ok(Array.isArray(status.snapshot_backends));
  const human = (await sandbox.cliOk(["status"])).stdout;
  assert.match(human, /^runtimes \(\* in use: host for host builds/m);
  // The reason for the backend is not repeated in the title (its details are on the backends' lines).
  assert.match(human, /^snapshot backends \((chosen automatically|[^:;]+)\):$/m);
});
