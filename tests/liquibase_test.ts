/**
 * prepare:lb and plan:lb with real Liquibase and PostgreSQL: one cached state per changeset.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO, Sandbox } from "./_sandbox.ts";
import { need, testNeeding } from "./_needs.ts";
import { executeStatuses, hostPsql } from "./_prepare_suite.ts";
import { containerNeed, TEST_IMAGE } from "./_containers.ts";

interface PlanTask {
  type: string;
  cached: boolean;
  output_state_id: string;
  changeset_id?: string;
  changeset_author?: string;
  changeset_path?: string;
}

async function liquibaseAvailable(): Promise<boolean> {
  const { findLiquibase } = await import("../engine/prepare/liquibase/lb_tool.ts");
  try {
    await findLiquibase(null);
    return true;
  } catch {
    return false;
  }
}

const LIQUIBASE = need(await liquibaseAvailable(), "Liquibase and Java (scripts/install-liquibase.sh)");

async function planLb(sandbox: Sandbox, cwd: string, ...extra: string[]): Promise<PlanTask[]> {
  const result = await sandbox.cliOk([
    "--output",
    "json",
    "plan:lb",
    "--",
    "update",
    "--changelog-file",
    "changelog.sql",
    ...extra,
  ], { cwd });
  return JSON.parse(result.stdout).tasks.filter((task: PlanTask) => task.type === "state_execute");
}

async function prepareLb(sandbox: Sandbox, cwd: string, ...extra: string[]) {
  const result = await sandbox.cliOk([
    "--output",
    "json",
    "prepare:lb",
    "--",
    "update",
    "--changelog-file",
    "changelog.sql",
    ...extra,
  ], { cwd });
  return JSON.parse(result.stdout) as { job_id: string; instance_id: string; state_id: string; dsn: string };
}

const CHANGESETS = {
  one: "--changeset alice:1\ncreate table person(id serial primary key, name text not null);\n",
  two: "--changeset bob:2\ninsert into person(name) values ('a'), ('b');\n",
  three: "--changeset carol:3 context:demo\ninsert into person(name) values ('demo');\n",
};

function changelog(...parts: string[]): string {
  return `--liquibase formatted sql\n\n${parts.join("\n")}`;
}

testNeeding(
  LIQUIBASE,
  "prepare:lb caches one state per changeset; new, edited and context-filtered changesets plan as they should",
  async () => {
    await using sandbox = await Sandbox.create();
    const project = join(sandbox.dir, "lb");
    await Deno.mkdir(project);
    const file = join(project, "changelog.sql");
    await Deno.writeTextFile(file, changelog(CHANGESETS.one, CHANGESETS.two));

    const planned = await planLb(sandbox, project);
    assert.deepEqual(planned.map((t) => [t.changeset_id, t.changeset_author, t.changeset_path, t.cached]), [
      ["1", "alice", "changelog.sql", false],
      ["2", "bob", "changelog.sql", false],
    ]);
    const first = await prepareLb(sandbox, project);
    assert.deepEqual(await executeStatuses(sandbox, first.job_id), ["succeeded", "succeeded"]);
    assert.equal(first.state_id, planned[1]?.output_state_id);
    assert.ok((await planLb(sandbox, project)).every((t) => t.cached), "everything cached after prepare");
    const applied = await hostPsql(
      first.dsn,
      "select string_agg(id || ':' || author, ',' order by orderexecuted) from databasechangelog",
    );
    assert.equal(applied.stdout, "1:alice,2:bob", applied.stderr);
    assert.equal((await hostPsql(first.dsn, "select count(*) from person")).stdout, "2");

    // A new changeset: the earlier ones stay cached, only the new one runs.
    await Deno.writeTextFile(
      file,
      changelog(
        CHANGESETS.one,
        CHANGESETS.two,
        "--changeset dave:4\nalter table person add column email text;\n",
      ),
    );
    const added = await prepareLb(sandbox, project);
    assert.deepEqual(await executeStatuses(sandbox, added.job_id), ["skipped", "skipped", "succeeded"]);
    assert.equal((await hostPsql(added.dsn, "select count(*) from databasechangelog")).stdout, "3");

    // Editing an applied changeset changes its key and everything after it.
    await Deno.writeTextFile(
      file,
      changelog(CHANGESETS.one.replace("not null", "not null default 'x'"), CHANGESETS.two),
    );
    const edited = await planLb(sandbox, project);
    assert.deepEqual(edited.map((t) => t.cached), [false, false]);
    assert.notEqual(edited[0]?.output_state_id, planned[0]?.output_state_id);

    // Contexts change the plan: a changeset limited to a context is pending only with that context.
    await Deno.writeTextFile(file, changelog(CHANGESETS.one, CHANGESETS.two, CHANGESETS.three));
    const without = await planLb(sandbox, project, "--contexts", "prod");
    const withDemo = await planLb(sandbox, project, "--contexts", "demo");
    assert.equal(without.length, 2);
    assert.equal(withDemo.length, 3);
    assert.equal(withDemo[2]?.changeset_id, "3");

    const tasks = await sandbox.cliOk(["ls", "--tasks", "--job", added.job_id]);
    // The step names its project: a changeset's path alone is relative to a directory ls does not show.
    assert.ok(tasks.stdout.includes(`changelog.sql::4::dave in ${project}`), tasks.stdout);
  },
);

testNeeding(
  LIQUIBASE,
  "prepare:lb refuses connection options, reports a failing changeset, and keeps the states before it",
  async () => {
    await using sandbox = await Sandbox.create();
    const project = join(sandbox.dir, "lb");
    await Deno.mkdir(project);
    await Deno.writeTextFile(
      join(project, "changelog.sql"),
      changelog(CHANGESETS.one, "--changeset bob:broken\ninsert into nowhere values (1);\n"),
    );
    for (
      const option of [
        "--url=jdbc:postgresql://elsewhere/db",
        "--username=x",
        "--password=y",
        "--driver=x",
      ]
    ) {
      const refused = await sandbox.cli([
        "prepare:lb",
        "--",
        "update",
        "--changelog-file",
        "changelog.sql",
        option,
      ], { cwd: project });
      assert.equal(refused.code, 2, option);
      assert.match(refused.stderr, new RegExp(option.split("=")[0] as string));
    }
    const missing = await sandbox.cli(["prepare:lb", "--", "update", "--changelog-file", "nope.xml"], {
      cwd: project,
    });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.xml/);
    const rollback = await sandbox.cli(
      ["prepare:lb", "--", "rollback", "--changelog-file", "changelog.sql"],
      {
        cwd: project,
      },
    );
    assert.equal(rollback.code, 2);

    const failed = await sandbox.cli(["prepare:lb", "--", "update", "--changelog-file", "changelog.sql"], {
      cwd: project,
    });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /nowhere/);
    const plan = await planLb(sandbox, project);
    assert.deepEqual(plan.map((t) => t.cached), [true, false], "the first changeset's state stays cached");
  },
);

testNeeding(
  LIQUIBASE,
  "the example Liquibase project (XML including YAML, SQL and JSON changelogs) prepares",
  async () => {
    await using sandbox = await Sandbox.create();
    const example = join(REPO, "examples", "liquibase");
    const result = await sandbox.cliOk(
      ["--output", "json", "prepare:lb", "--", "update", "--changelog-file", "changelog.xml"],
      { cwd: example },
    );
    const prepared = JSON.parse(result.stdout);
    const applied = await hostPsql(prepared.dsn, "select count(*) from databasechangelog");
    assert.ok(Number(applied.stdout) >= 3, applied.stdout);
    const status = JSON.parse((await sandbox.cliOk(["--output", "json", "status"])).stdout);
    assert.equal(status.liquibase.available, true);
    assert.match(status.liquibase.detail, /^Liquibase 4\.28\.\d+ at \//);
    assert.match((await sandbox.cliOk(["status"])).stdout, /liquibase: Liquibase 4\.28/);
  },
);

for (const engine of ["docker", "podman"] as const) {
  testNeeding(
    [LIQUIBASE, await containerNeed(engine)],
    `prepare:lb runs the example project on ${engine} (JDBC over the published loopback port)`,
    async () => {
      await using sandbox = await Sandbox.create(() => ({ SQLRS_CONTAINER_RUNTIME: engine }));
      const result = await sandbox.cli(
        [
          "prepare:lb",
          "--image",
          TEST_IMAGE,
          "--",
          "update",
          "--changelog-file",
          "changelog.xml",
          "run:psql",
          "--",
          "-A",
          "-t",
          "-c",
          "select count(*) from databasechangelog",
        ],
        { cwd: join(REPO, "examples", "liquibase") },
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "5\n");
    },
  );
}
