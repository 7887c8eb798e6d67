/**
 * Workspace recipes on real PostgreSQL, run from a subdirectory of a workspace outside the checkout:
 * `plan NAME`, `prepare NAME` (its paths relative to the workspace root, its instance name and
 * statement timeout applied), `prepare NAME run:psql -- …`, `ls --recipes`, and the errors for an
 * unknown or malformed recipe.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CLI, runProgram, Sandbox } from "./_sandbox.ts";

const CONFIG = `recipes:
  dev:
    kind: psql
    args: [-f, db/schema.sql, -f, db/seed.sql]
    name: devdb
    statementTimeout: 45s
  empty:
    kind: psql
    args: [-c, "select 1"]
`;

async function workspace(sandbox: Sandbox): Promise<{ root: string; sub: string }> {
  const root = join(sandbox.dir, "project");
  const sub = join(root, "app", "src");
  await Deno.mkdir(join(root, ".sqlrs"), { recursive: true });
  await Deno.mkdir(join(root, "db"));
  await Deno.mkdir(sub, { recursive: true });
  await Deno.writeTextFile(join(root, ".sqlrs", "config.yaml"), CONFIG);
  await Deno.writeTextFile(join(root, "db", "schema.sql"), "create table users(id int);\n");
  await Deno.writeTextFile(join(root, "db", "seed.sql"), "insert into users values (1), (2), (3);\n");
  return { root, sub };
}

Deno.test("a recipe is planned, prepared and composed with run:psql from a subdirectory of its workspace", async () => {
  await using sandbox = await Sandbox.create();
  const { root, sub } = await workspace(sandbox);

  const plan = JSON.parse((await sandbox.cliOk(["--output", "json", "plan", "dev"], { cwd: sub })).stdout);
  const steps = plan.tasks.filter((task: { type: string }) => task.type === "state_execute");
  assert.deepEqual(steps.map((step: { args_summary: string }) => step.args_summary), [
    `-f ${join(root, "db", "schema.sql")}`,
    `-f ${join(root, "db", "seed.sql")}`,
  ]);
  assert.deepEqual(steps.map((step: { cached: boolean }) => step.cached), [false, false]);

  const prepared = await sandbox.cli(["--output", "json", "prepare", "dev"], { cwd: sub });
  assert.equal(prepared.code, 0, prepared.stderr);
  assert.equal(JSON.parse(prepared.stdout).name, "devdb");
  // Progress labels the steps relative to the workspace root.
  assert.match(prepared.stderr, /ran +\[1\/2\] db\/schema\.sql/);
  const counted = await sandbox.cliOk([
    "run:psql",
    "--instance",
    "devdb",
    "--",
    "-Atc",
    "select count(*) from users",
  ], {
    cwd: sub,
  });
  assert.equal(counted.stdout, "3\n");

  // The composite: cached steps, the run against a fresh instance with the recipe's statement timeout.
  const composed = await sandbox.cli(
    [
      "prepare",
      "dev",
      "--name",
      "other",
      "run:psql",
      "--",
      "-At",
      "-c",
      "select sum(id) from users",
      "-c",
      "show statement_timeout",
    ],
    { cwd: sub },
  );
  assert.equal(composed.code, 0, composed.stderr);
  assert.equal(composed.stdout, "6\n45s\n");
  assert.match(composed.stderr, /2 steps: 2 cached, 0 ran/);

  const listed = JSON.parse(
    (await sandbox.cliOk(["--output", "json", "ls", "--recipes"], { cwd: sub })).stdout,
  );
  assert.deepEqual(listed.recipes.map((r: { recipe: string }) => r.recipe), ["dev", "empty"]);
  assert.deepEqual(listed.recipes[0], {
    recipe: "dev",
    kind: "psql",
    args: ["-f", "db/schema.sql", "-f", "db/seed.sql"],
    image: null,
    name: "devdb",
    deadline: null,
    statement_timeout: "45s",
  });
  const table = (await sandbox.cliOk(["ls", "-r"], { cwd: sub })).stdout;
  assert.match(table, /^dev +psql +- +devdb +-f db\/schema\.sql -f db\/seed\.sql$/m);

  // Shell completion offers the recipes, and the instances of the running engine.
  const complete = await bashCompletion(sandbox, sub);
  assert.deepEqual(await complete("sqlrs prepare "), ["dev", "empty"]);
  assert.deepEqual(await complete("sqlrs plan e"), ["empty"]);
  const instances = await complete("sqlrs run:psql --instance ");
  assert.ok(instances.includes("devdb"), instances.join(" "));
  assert.ok(instances.includes(JSON.parse(prepared.stdout).instance_id.slice(0, 12)), instances.join(" "));
});

/** Completes a command line with `sqlrs completions bash`, a `sqlrs` on PATH running this checkout. */
async function bashCompletion(sandbox: Sandbox, cwd: string): Promise<(line: string) => Promise<string[]>> {
  const bin = join(sandbox.dir, "bin");
  await Deno.mkdir(bin);
  await Deno.writeTextFile(
    join(bin, "sqlrs"),
    `#!/bin/sh\nexec '${Deno.execPath()}' run -A --quiet '${CLI}' "$@"\n`,
    { mode: 0o755 },
  );
  const script = join(sandbox.dir, "sqlrs.bash");
  await Deno.writeTextFile(script, (await sandbox.cliOk(["completions", "bash"])).stdout);
  const env = { ...sandbox.env, PATH: `${bin}:${Deno.env.get("PATH")}` };
  return async (line) => {
    const result = await runProgram("bash", [
      "-c",
      `source "$1"; COMP_LINE="$2"; COMP_POINT=\${#2}; _sqlrs; printf '%s\\n' "\${COMPREPLY[@]}"`,
      "bash",
      script,
      line,
    ], { cwd, env });
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.split("\n").filter((word) => word !== "");
  };
}

Deno.test("an unknown recipe exits 2 and names the recipes there are; a malformed one names its file and key", async () => {
  await using sandbox = await Sandbox.create();
  const { root, sub } = await workspace(sandbox);
  const unknown = await sandbox.cli(["--output", "json", "prepare", "prod"], { cwd: sub });
  assert.equal(unknown.code, 2);
  assert.deepEqual(JSON.parse(unknown.stdout).error, {
    code: "not_found",
    message: 'Unknown recipe "prod": recipes here: dev, empty',
  });
  const outside = await sandbox.cli(["plan", "dev"], { cwd: sandbox.dir });
  assert.equal(outside.code, 2);
  assert.match(outside.stderr, /^sqlrs: Unknown recipe "dev": no workspace recipes here/);

  await Deno.writeTextFile(
    join(root, ".sqlrs", "config.yaml"),
    "recipes:\n  bad:\n    kind: flyway\n    args: []\n",
  );
  const malformed = await sandbox.cli(["plan", "bad"], { cwd: sub });
  assert.equal(malformed.code, 2);
  assert.match(malformed.stderr, /^sqlrs: Invalid recipe "bad" in .*\.sqlrs\/config\.yaml: kind: /);
});
