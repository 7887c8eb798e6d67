/**
 * What the server reads during a step is part of the step's key (real PostgreSQL, host runtime):
 * a server-side `COPY … FROM '/abs/file'`, and programs that read files (`\copy … from program`,
 * `COPY … FROM PROGRAM`). Editing such a file is a cache miss with the new data; what cannot be
 * keyed is refused before any work, with a way to make it keyable.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Sandbox } from "./_sandbox.ts";

/** Prepares `script` (one -f step) as instance `name` and returns the sum of t.x in it. */
async function prepareSum(sandbox: Sandbox, name: string): Promise<string> {
  await sandbox.cliOk(["prepare:psql", "--name", name, "--", "-f", "load.sql"]);
  return (await sandbox.query(name, "select sum(x) from t")).stdout.trim();
}

for (
  const [what, load] of [
    ["COPY … FROM '/abs/file'", (csv: string) => `copy t from '${csv}' with (format csv);`],
    ["\\copy … from program 'cat file'", () => "\\copy t from program 'cat data.csv' with (format csv)"],
    [
      "COPY … FROM PROGRAM 'cat /abs/file'",
      (csv: string) => `copy t from program 'cat ${csv}' with (format csv);`,
    ],
  ] as const
) {
  Deno.test(`editing the file behind ${what} is a cache miss with the new data`, async () => {
    await using sandbox = await Sandbox.create();
    const csv = join(sandbox.dir, "data.csv");
    await Deno.writeTextFile(csv, "1\n2\n");
    await Deno.writeTextFile(join(sandbox.dir, "load.sql"), `create table t (x int);\n${load(csv)}\n`);
    assert.equal(await prepareSum(sandbox, "first"), "3");
    await Deno.writeTextFile(csv, "10\n20\n");
    assert.equal(await prepareSum(sandbox, "second"), "30");
  });
}

Deno.test("a COPY whose source cannot be keyed is refused before any work, naming \\copy", async () => {
  await using sandbox = await Sandbox.create();
  for (
    const sql of [
      "copy t from 'relative.csv';",
      "copy t from program 'curl -s https://example.org/data.csv';",
      `copy t from '${sandbox.dir}/missing.csv';`,
    ]
  ) {
    await Deno.writeTextFile(join(sandbox.dir, "load.sql"), `create table t (x int);\n${sql}\n`);
    const result = await sandbox.cli(["prepare:psql", "--", "-f", "load.sql"]);
    assert.equal(result.code, 2, `${sql}: ${result.stderr}`);
    assert.match(result.stderr, /\\copy/, sql);
  }
  assert.equal(
    (await sandbox.cliOk(["--output", "json", "ls", "--states"])).stdout.includes("state_id"),
    false,
  );
});
