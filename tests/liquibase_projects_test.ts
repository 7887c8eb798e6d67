/**
 * prepare:lb on project layouts real Liquibase projects use, with real Liquibase and PostgreSQL:
 * `--search-path`, cached plans (a warm prepare starts no Java), `runAlways`, `--classpath` with a
 * `customChange`, contexts keyed per changeset, and `cache explain prepare:lb`.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { Sandbox } from "./_sandbox.ts";
import { need, testNeeding } from "./_needs.ts";
import { executeStatuses, hostPsql } from "./_prepare_suite.ts";
import { run } from "../engine/exec.ts";
import { findLiquibase } from "../engine/prepare/liquibase/lb_tool.ts";

interface PlanTask {
  type: string;
  cached: boolean;
  output_state_id: string;
  changeset_id?: string;
}

async function liquibase(): Promise<string | null> {
  try {
    return (await findLiquibase(null)).path;
  } catch {
    return null;
  }
}

const LIQUIBASE = need((await liquibase()) !== null, "Liquibase and Java (scripts/install-liquibase.sh)");
const JAVAC = need(
  (await run(["javac", "-version"]).catch(() => ({ code: 127 }))).code === 0,
  "javac (a JDK) to compile a customChange",
);

async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(dirname(join(root, path)), { recursive: true });
    await Deno.writeTextFile(join(root, path), text);
  }
}

async function planLb(sandbox: Sandbox, cwd: string, args: string[]): Promise<PlanTask[]> {
  const result = await sandbox.cliOk(["--output", "json", "plan:lb", "--", ...args], { cwd });
  return JSON.parse(result.stdout).tasks.filter((task: PlanTask) => task.type === "state_execute");
}

async function prepareLb(sandbox: Sandbox, cwd: string, args: string[]) {
  const result = await sandbox.cliOk(["--output", "json", "prepare:lb", "--", ...args], { cwd });
  return JSON.parse(result.stdout) as { job_id: string; state_id: string; dsn: string };
}

/** A launcher that records each start of Liquibase (each JVM) in `calls`, then runs the real one. */
async function countingLauncher(dir: string, real: string): Promise<{ path: string; calls: () => number }> {
  const path = join(dir, "liquibase-counting");
  const log = join(dir, "liquibase-calls.log");
  await Deno.writeTextFile(path, `#!/bin/bash\necho "$*" >> '${log}'\nexec '${real}' "$@"\n`);
  await Deno.chmod(path, 0o755);
  const calls = () => {
    try {
      return Deno.readTextFileSync(log).split("\n").filter((line) => line !== "").length;
    } catch {
      return 0;
    }
  };
  return { path, calls };
}

const XML_HEAD = `<?xml version="1.0" encoding="UTF-8"?>
<databaseChangeLog xmlns="http://www.liquibase.org/xml/ns/dbchangelog"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.liquibase.org/xml/ns/dbchangelog http://www.liquibase.org/xml/ns/dbchangelog/dbchangelog-latest.xsd">`;

/** A JHipster-like layout: a master changelog including a directory, data loaded by sqlFile. */
const PROJECT = {
  "src/main/resources/config/liquibase/master.xml": `${XML_HEAD}
  <include file="config/liquibase/changelog/001_person.sql"/>
  <includeAll path="config/liquibase/more/"/>
  <changeSet id="seed" author="app"><sqlFile path="config/liquibase/data/seed.sql"/></changeSet>
</databaseChangeLog>
`,
  "src/main/resources/config/liquibase/changelog/001_person.sql":
    "--liquibase formatted sql\n--changeset app:1\ncreate table person(id int primary key, name text);\n",
  "src/main/resources/config/liquibase/more/002_city.sql":
    "--liquibase formatted sql\n--changeset app:2\ncreate table city(id int primary key);\n",
  "src/main/resources/config/liquibase/data/seed.sql": "insert into person values (1, 'a');\n",
};

const MASTER = ["update", "--changelog-file", "config/liquibase/master.xml"];

testNeeding(
  LIQUIBASE,
  "prepare:lb with --search-path prepares, and a warm prepare:lb starts no Java",
  async () => {
    const real = await liquibase();
    await using sandbox = await Sandbox.create();
    const project = join(sandbox.dir, "app");
    await writeFiles(project, PROJECT);
    const launcher = await countingLauncher(sandbox.dir, real as string);
    await sandbox.cliOk(["config", "set", "liquibase.exec", JSON.stringify(launcher.path)]);
    const args = [...MASTER, "--search-path", "src/main/resources"];

    const first = await prepareLb(sandbox, project, args);
    assert.deepEqual(await executeStatuses(sandbox, first.job_id), ["succeeded", "succeeded", "succeeded"]);
    assert.equal((await hostPsql(first.dsn, "select count(*) from person")).stdout, "1");
    // `--search-path .` from the resources directory: the same states.
    const dot = await prepareLb(sandbox, join(project, "src/main/resources"), [
      ...MASTER,
      "--search-path",
      ".",
    ]);
    assert.equal(dot.state_id, first.state_id);

    // Warm: nothing changed, so neither planning nor any step starts Liquibase.
    const before = launcher.calls();
    const warm = await prepareLb(sandbox, project, args);
    assert.equal(warm.state_id, first.state_id);
    assert.equal(launcher.calls(), before, "a warm prepare:lb starts no Java");
    // Nor after the engine restarts: the plan and the Liquibase version are kept in the store.
    await sandbox.cliOk(["engine", "stop"]);
    assert.equal((await prepareLb(sandbox, project, args)).state_id, first.state_id);
    assert.equal(launcher.calls(), before, "a warm prepare:lb on a new engine starts no Java");

    // A file no log line names (the sqlFile's SQL) still invalidates the cached plan.
    await Deno.writeTextFile(
      join(project, "src/main/resources/config/liquibase/data/seed.sql"),
      "insert into person values (1, 'a'), (2, 'b');\n",
    );
    const edited = await planLb(sandbox, project, args);
    assert.ok(launcher.calls() > before, "a changed input plans with Liquibase again");
    assert.deepEqual(edited.map((task) => task.cached), [true, true, false]);
    const rebuilt = await prepareLb(sandbox, project, args);
    assert.deepEqual(await executeStatuses(sandbox, rebuilt.job_id), ["skipped", "skipped", "succeeded"]);
    assert.equal((await hostPsql(rebuilt.dsn, "select count(*) from person")).stdout, "2");

    // A new file in an includeAll directory is a new changeset.
    await writeFiles(project, {
      "src/main/resources/config/liquibase/more/003_tag.sql":
        "--liquibase formatted sql\n--changeset app:3\ncreate table tag(id int);\n",
    });
    assert.equal((await planLb(sandbox, project, args)).length, 4);
  },
);

testNeeding(
  LIQUIBASE,
  "prepare:lb applies a runAlways changeset followed by others, like liquibase update",
  async () => {
    await using sandbox = await Sandbox.create();
    const project = join(sandbox.dir, "app");
    const changelog = (...extra: string[]) =>
      [
        "--liquibase formatted sql",
        "--changeset app:grants runAlways:true",
        "create table if not exists audit(n int); insert into audit values (1);",
        "--changeset app:1",
        "create table person(id int);",
        "--changeset app:2",
        "insert into person values (1);",
        ...extra,
      ].join("\n") + "\n";
    await writeFiles(project, { "changelog.sql": changelog() });
    const args = ["update", "--changelog-file", "changelog.sql"];
    const first = await prepareLb(sandbox, project, args);
    assert.deepEqual(await executeStatuses(sandbox, first.job_id), ["succeeded", "succeeded", "succeeded"]);
    // As one liquibase update on a fresh database: the runAlways changeset ran once per Liquibase run.
    assert.equal((await hostPsql(first.dsn, "select count(*) from databasechangelog")).stdout, "3");
    assert.equal((await hostPsql(first.dsn, "select count(*) from person")).stdout, "1");

    // Adding a changeset resumes from the last state: Liquibase re-runs the runAlways one there, as
    // `liquibase update` on that database would, and the new step succeeds.
    await writeFiles(project, {
      "changelog.sql": changelog("--changeset app:3", "insert into person values (3);"),
    });
    const added = await prepareLb(sandbox, project, args);
    assert.deepEqual(await executeStatuses(sandbox, added.job_id), [
      "skipped",
      "skipped",
      "skipped",
      "succeeded",
    ]);
    assert.equal((await hostPsql(added.dsn, "select count(*) from person")).stdout, "2");
  },
);

testNeeding(
  LIQUIBASE,
  "prepare:lb keys contexts per changeset: another --contexts rebuilds only what it filters",
  async () => {
    await using sandbox = await Sandbox.create();
    const project = join(sandbox.dir, "app");
    await writeFiles(project, {
      "changelog.sql": [
        "--liquibase formatted sql",
        "--changeset app:1",
        "create table person(id int);",
        "--changeset app:2",
        "insert into person values (1);",
        "--changeset app:3 context:demo",
        "insert into person values (3);",
        "",
      ].join("\n"),
    });
    const args = ["update", "--changelog-file", "changelog.sql"];
    await prepareLb(sandbox, project, [...args, "--contexts", "prod"]);
    const other = await planLb(sandbox, project, [...args, "--contexts", "test"]);
    assert.deepEqual(other.map((task) => [task.changeset_id, task.cached]), [["1", true], ["2", true]]);
    const demo = await planLb(sandbox, project, [...args, "--contexts", "demo"]);
    assert.deepEqual(demo.map((task) => [task.changeset_id, task.cached]), [["1", true], ["2", true], [
      "3",
      false,
    ]]);
  },
);

testNeeding(
  LIQUIBASE,
  "cache explain prepare:lb: a changed changeset is the miss, compared with the state it was built as",
  async () => {
    await using sandbox = await Sandbox.create();
    const project = join(sandbox.dir, "app");
    await writeFiles(project, PROJECT);
    const args = [...MASTER, "--search-path", "src/main/resources"];
    await prepareLb(sandbox, project, args);
    const hit = JSON.parse(
      (await sandbox.cliOk(["--output", "json", "cache", "explain", "prepare:lb", "--", ...args], {
        cwd: project,
      }))
        .stdout,
    );
    assert.equal(hit.decision, "hit");
    // The last changeset's file: the states before it are kept (intermediate ones only by cost, so an
    // earlier edit may resume from further back).
    await Deno.writeTextFile(
      join(project, "src/main/resources/config/liquibase/data/seed.sql"),
      "insert into person values (2, 'b');\n",
    );
    // --all: every step, the hits too (without it only the misses are listed).
    const miss = JSON.parse(
      (await sandbox.cliOk(["--output", "json", "cache", "explain", "--all", "prepare:lb", "--", ...args], {
        cwd: project,
      }))
        .stdout,
    );
    assert.equal(miss.decision, "miss");
    assert.deepEqual(miss.steps.map((step: { decision: string }) => step.decision), ["hit", "hit", "miss"]);
    assert.equal(miss.steps[2].reason_code, "input_changed");
    assert.match(miss.steps[2].reason, /^compared with state [0-9a-f]{12}: .*data\/seed\.sql changed/);
    assert.deepEqual(miss.steps[2].changed_files, [
      join(project, "src/main/resources/config/liquibase/data/seed.sql"),
    ]);
    const human = await sandbox.cliOk(["cache", "explain", "prepare:lb", "--", ...args], { cwd: project });
    assert.match(human.stdout, /decision: miss/);
  },
);

testNeeding(
  [LIQUIBASE, JAVAC],
  "prepare:lb --classpath runs a customChange and keys its classes by content",
  async () => {
    const real = await liquibase();
    await using sandbox = await Sandbox.create();
    const project = join(sandbox.dir, "app");
    const core = join(dirname(real as string), "internal", "lib", "liquibase-core.jar");
    const compile = async (table: string) => {
      await writeFiles(project, {
        "src/app/MakeTable.java": `package app;
import liquibase.change.custom.CustomSqlChange;
import liquibase.database.Database;
import liquibase.exception.ValidationErrors;
import liquibase.resource.ResourceAccessor;
import liquibase.statement.SqlStatement;
import liquibase.statement.core.RawSqlStatement;
public class MakeTable implements CustomSqlChange {
  public SqlStatement[] generateStatements(Database database) {
    return new SqlStatement[] { new RawSqlStatement("create table ${table}(id int)") };
  }
  public String getConfirmationMessage() { return "made"; }
  public void setUp() {}
  public void setFileOpener(ResourceAccessor accessor) {}
  public ValidationErrors validate(Database database) { return new ValidationErrors(); }
}
`,
      });
      const result = await run([
        "javac",
        "-cp",
        core,
        "-d",
        join(project, "classes"),
        join(project, "src/app/MakeTable.java"),
      ]);
      assert.equal(result.code, 0, result.stderr);
    };
    await compile("made_by_java");
    await writeFiles(project, {
      "changelog.xml": `${XML_HEAD}
  <changeSet id="1" author="app"><createTable tableName="person"><column name="id" type="int"/></createTable></changeSet>
  <changeSet id="2" author="app"><customChange class="app.MakeTable"/></changeSet>
</databaseChangeLog>
`,
    });
    const args = ["update", "--changelog-file", "changelog.xml", "--classpath", "classes"];
    const first = await prepareLb(sandbox, project, args);
    assert.equal((await hostPsql(first.dsn, "select count(*) from made_by_java")).stdout, "0");
    // Other classes, same changelog: the classpath's content is in every step's key.
    await compile("made_again");
    const again = await planLb(sandbox, project, args);
    assert.deepEqual(again.map((task) => task.cached), [false, false]);
    const second = await prepareLb(sandbox, project, args);
    assert.equal((await hostPsql(second.dsn, "select count(*) from made_again")).stdout, "0");
  },
);
