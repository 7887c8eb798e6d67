/**
 * `cache explain` on a series whose middle step changed (real PostgreSQL, real Liquibase): the steps
 * before it are unchanged but their states were not kept (the keep policy keeps the last two and
 * intermediate ones by cost), so they run again and say so (`unchanged_not_kept`); the changed step
 * names the file that changed, a Liquibase `sqlFile` included; every later step runs because it does.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { Sandbox } from "./_sandbox.ts";
import { need, testNeeding } from "./_needs.ts";
import { liquibaseAvailable } from "./_liquibase.ts";

interface ExplainStep {
  task_id: string;
  output_state_id: string;
  decision: string;
  reason_code: string;
  reason: string;
  nearest_state_id: string | null;
  changed_files: string[];
}

async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(dirname(join(root, path)), { recursive: true });
    await Deno.writeTextFile(join(root, path), text);
  }
}

async function explain(sandbox: Sandbox, cwd: string, kind: string, args: string[]): Promise<ExplainStep[]> {
  const result = await sandbox.cliOk(["--output", "json", "cache", "explain", "--all", kind, "--", ...args], {
    cwd,
  });
  const explained = JSON.parse(result.stdout);
  assert.equal(explained.decision, "miss");
  return explained.steps;
}

/**
 * Step 0 unchanged (kept only if its run alone was worth a keep), step 1 unchanged and not kept (it
 * ran with the steps after it), step 2 changed in `file`, the rest after it.
 */
function assertMiddleChange(steps: ExplainStep[], file: string, fileName: RegExp): void {
  const codes = steps.map((step) => step.reason_code);
  assert.ok(["unchanged_not_kept", "exact_state_match"].includes(codes[0] as string), codes.join());
  assert.deepEqual(
    codes.slice(1),
    ["unchanged_not_kept", "input_changed", "parent_changed", "parent_changed"],
    JSON.stringify(steps, null, 1),
  );
  const from = codes[0] === "unchanged_not_kept"
    ? "the base"
    : `state ${steps[0]?.output_state_id.slice(0, 12)}`;
  assert.equal(steps[1]?.decision, "miss");
  assert.match(
    steps[1]?.reason ?? "",
    /^unchanged, but its state was not kept \(states are kept by cost; it was part of state [0-9a-f]{12}\): runs again from /,
  );
  assert.ok(steps[1]?.reason.endsWith(`runs again from ${from}`), steps[1]?.reason);
  const changed = steps[2] as ExplainStep;
  assert.match(changed.reason, fileName);
  assert.doesNotMatch(changed.reason, /not attributable/);
  assert.deepEqual(changed.changed_files, [file]);
}

Deno.test("cache explain prepare:psql: a changed middle file is the miss; the unchanged steps before it were not kept", async () => {
  await using sandbox = await Sandbox.create();
  const files: Record<string, string> = {};
  for (let i = 1; i <= 5; i++) files[`0${i}.sql`] = `create table t${i}(id int);\n`;
  await writeFiles(sandbox.dir, files);
  const args = Object.keys(files).flatMap((name) => ["-f", name]);
  await sandbox.cliOk(["prepare:psql", "--", ...args]);

  await Deno.writeTextFile(join(sandbox.dir, "03.sql"), "create table t3(id bigint);\n");
  assertMiddleChange(
    await explain(sandbox, sandbox.dir, "prepare:psql", args),
    join(sandbox.dir, "03.sql"),
    /03\.sql changed/,
  );
  const human = (await sandbox.cliOk(["cache", "explain", "prepare:psql", "--", ...args])).stdout;
  assert.match(human, /^execute-1 +miss .*unchanged, but its state was not kept/m);
  assert.match(human, /^execute-2 +miss .*03\.sql changed/m);
});

const XML_HEAD = `<?xml version="1.0" encoding="UTF-8"?>
<databaseChangeLog xmlns="http://www.liquibase.org/xml/ns/dbchangelog"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.liquibase.org/xml/ns/dbchangelog http://www.liquibase.org/xml/ns/dbchangelog/dbchangelog-4.20.xsd">`;

/** Five changesets; the third runs a sqlFile beside the changelog. */
const PROJECT = {
  "db/master.xml": `${XML_HEAD}
  <changeSet id="1" author="app"><sql>create table one(id int)</sql></changeSet>
  <changeSet id="2" author="app"><sql>create table two(id int)</sql></changeSet>
  <changeSet id="3" author="app"><sqlFile path="sql/three.sql" relativeToChangelogFile="true"/></changeSet>
  <changeSet id="4" author="app"><sql>create table four(id int)</sql></changeSet>
  <changeSet id="5" author="app"><sql>create table five(id int)</sql></changeSet>
</databaseChangeLog>
`,
  "db/sql/three.sql": "create table three(id int);\n",
};

testNeeding(
  need(await liquibaseAvailable(), "Liquibase and Java"),
  "cache explain prepare:lb: a changed sqlFile in the middle is named; the unchanged changesets before it were not kept",
  async () => {
    await using sandbox = await Sandbox.create();
    const project = join(sandbox.dir, "app");
    await writeFiles(project, PROJECT);
    const args = ["update", "--changelog-file", "db/master.xml"];
    await sandbox.cliOk(["prepare:lb", "--", ...args], { cwd: project });

    const sqlFile = join(project, "db/sql/three.sql");
    await Deno.writeTextFile(sqlFile, "create table three(id bigint);\n");
    assertMiddleChange(
      await explain(sandbox, project, "prepare:lb", args),
      sqlFile,
      /db\/sql\/three\.sql changed/,
    );
  },
);
