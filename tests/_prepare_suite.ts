/**
 * The prepare test suite, run against real PostgreSQL on each snapshot backend (see the
 * `prepare_*_test.ts` files): caching per step, include handling, failures, cancel, crash recovery.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type CliResult, postgresUnder, processAlive, REPO, type Sandbox, waitFor } from "./_sandbox.ts";
import { sandboxOn, type StoreKind, storeNeed } from "./_stores.ts";
import { type ContainerEngine, containerNeed, containersUnder, TEST_IMAGE } from "./_containers.ts";
import { testNeeding } from "./_needs.ts";

interface Prepared {
  job_id: string;
  instance_id: string;
  state_id: string;
  dsn: string;
}

/** The `--image` of each sandbox whose suite runs on a container runtime. */
const sandboxImages = new WeakMap<Sandbox, string>();

/** `--image <tag>` when the sandbox runs on a container runtime, else nothing (the host default). */
export function imageFlag(sandbox: Sandbox): string[] {
  const image = sandboxImages.get(sandbox);
  return image === undefined ? [] : ["--image", image];
}

/** `sqlrs --output json prepare:psql -- <args>` parsed. */
export async function prepare(
  sandbox: Sandbox,
  args: string[],
  options: { cwd?: string; stdin?: string } = {},
): Promise<Prepared> {
  const result = await sandbox.cliOk([
    "--output",
    "json",
    "prepare:psql",
    ...imageFlag(sandbox),
    "--",
    ...args,
  ], options);
  return JSON.parse(result.stdout);
}

/** The `state_execute` tasks of a plan with their `cached` flag. */
export async function plan(
  sandbox: Sandbox,
  args: string[],
  cwd?: string,
): Promise<Array<{ output_state_id: string; cached: boolean; included_in?: string }>> {
  const result = await sandbox.cliOk(
    ["--output", "json", "plan:psql", ...imageFlag(sandbox), "--", ...args],
    cwd === undefined ? {} : { cwd },
  );
  return JSON.parse(result.stdout).tasks.filter((task: { type: string }) => task.type === "state_execute");
}

/** Statuses of a job's execute tasks, in order (`succeeded` = executed, `skipped` = cache hit). */
export async function executeStatuses(sandbox: Sandbox, jobId: string): Promise<string[]> {
  const result = await sandbox.cliOk(["--output", "json", "ls", "--tasks", "--job", jobId]);
  return JSON.parse(result.stdout).tasks.filter((task: { type: string }) => task.type === "state_execute")
    .map((
      task: { status: string },
    ) => task.status);
}

/** Runs the host's own psql against a DSN. */
export async function hostPsql(dsn: string, sql: string): Promise<CliResult> {
  const output = await new Deno.Command("psql", {
    args: [dsn, "-X", "-A", "-t", "-c", sql],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout).trim(),
    stderr: decoder.decode(output.stderr),
  };
}

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await Deno.mkdir(join(dir, name, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, name), content);
  }
}

/** Where a state's data directory is under the store. */
async function findStateDir(storeRoot: string, stateId: string): Promise<string> {
  const engines = join(storeRoot, "engines");
  for await (const runtime of Deno.readDir(engines)) {
    for await (const build of Deno.readDir(join(engines, runtime.name))) {
      const path = join(engines, runtime.name, build.name, "states", stateId);
      if (await Deno.stat(path).then(() => true, () => false)) return path;
    }
  }
  throw new Error(`state ${stateId} not found under ${engines}`);
}

/** SHA-256 of every file under `dir`, by relative path. */
async function digestTree(dir: string): Promise<Record<string, string>> {
  const digests: Record<string, string> = {};
  const visit = async (relative: string) => {
    for await (const entry of Deno.readDir(join(dir, relative))) {
      const path = join(relative, entry.name);
      if (entry.isDirectory) await visit(path);
      else if (entry.isFile) {
        const bytes = await Deno.readFile(join(dir, path));
        digests[path] = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)))
          .map((b) => b.toString(16).padStart(2, "0")).join("");
      }
    }
  };
  await visit("");
  return digests;
}

async function countStates(sandbox: Sandbox): Promise<number> {
  return JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--states"])).stdout).states.length;
}

async function countInstances(sandbox: Sandbox): Promise<number> {
  return JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--instances"])).stdout).instances.length;
}

/**
 * Writes `count` small migrations (`m00.sql`…) of mixed DDL and small inserts; `extra` is appended to
 * each. Resolves with their names in order.
 */
async function writeMigrations(dir: string, count: number, extra = ""): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `m${String(i).padStart(2, "0")}.sql`;
    const lines = [
      `create table m${i} (id int primary key, v text);`,
      `insert into m${i} select g, md5('${i}-' || g) from generate_series(1, 5) g;`,
    ];
    if (i > 0 && i % 3 === 0) lines.push(`alter table m${i - 1} add column extra int default ${i};`);
    if (i > 0 && i % 4 === 0) {
      lines.push(`create view v${i} as select id from m${i} join m${i - 1} using (id);`);
    }
    if (i > 0 && i % 5 === 0) lines.push(`update m${i - 1} set v = upper(v) where id % 2 = 0;`);
    lines.push(extra, "");
    await Deno.writeTextFile(join(dir, name), lines.join("\n"));
    names.push(name);
  }
  return names;
}

/** One host psql process over all `files`, as by hand. */
async function hostPsqlFiles(dsn: string, files: readonly string[]): Promise<CliResult> {
  const output = await new Deno.Command("psql", {
    args: [dsn, "-X", "-q", "-v", "ON_ERROR_STOP=1", ...files.flatMap((file) => ["-f", file])],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

/** A digest of the public schema: columns, views and every table's rows. */
async function contentDigest(dsn: string): Promise<string> {
  const rows = "select md5(coalesce(string_agg(t::text, ',' order by t::text), '')) from %I t";
  const result = await hostPsql(
    dsn,
    `select md5(string_agg(line, ' ' order by line)) from (
       select format('%s.%s %s %s', table_name, column_name, data_type, column_default) as line
         from information_schema.columns where table_schema = 'public'
       union all select format('view %s %s', viewname, definition) from pg_views where schemaname = 'public'
       union all select format('%s %s', tablename,
         (xpath('/row/md5/text()', query_to_xml(format('${
      rows.replaceAll("'", "''")
    }', tablename), false, true, '')))[1]::text)
         from pg_tables where schemaname = 'public') lines`,
  );
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

/**
 * Registers the prepare suite for one store kind, on the host runtime or (with `runtime`) on docker or
 * podman with the test image (`--image`, and `SQLRS_CONTAINER_RUNTIME` for the engine).
 */
export async function definePrepareSuite(kind: StoreKind, runtime?: ContainerEngine): Promise<void> {
  const needs = [...(runtime === undefined ? [] : [await containerNeed(runtime)]), await storeNeed(kind)];
  function test(name: string, fn: (sandbox: Sandbox) => Promise<void>) {
    testNeeding(
      needs,
      `prepare on ${kind}${runtime === undefined ? "" : ` (${runtime})`}: ${name}`,
      async () => {
        await using sandbox = await sandboxOn(kind);
        if (runtime !== undefined) {
          sandbox.env.SQLRS_CONTAINER_RUNTIME = runtime;
          sandboxImages.set(sandbox, TEST_IMAGE);
        }
        await fn(sandbox);
      },
    );
  }

  /** Containers (running or not) of data dirs under `root`; none on the host runtime. */
  function containersLeft(root: string): Promise<string[]> {
    return runtime === undefined ? Promise.resolve([]) : containersUnder(runtime, root);
  }

  test("the first prepare executes every step, the second is all cache hits with a new instance", async (sandbox) => {
    await writeFiles(sandbox.dir, {
      "a.sql": "create table t(id int);",
      "b.sql": "insert into t values (1), (2);",
      "c.sql": "insert into t values (3);",
    });
    const args = ["-f", "a.sql", "-f", "b.sql", "-f", "c.sql"];
    const first = await prepare(sandbox, args, { cwd: sandbox.dir });
    assert.deepEqual(await executeStatuses(sandbox, first.job_id), ["succeeded", "succeeded", "succeeded"]);
    const second = await prepare(sandbox, args, { cwd: sandbox.dir });
    assert.deepEqual(await executeStatuses(sandbox, second.job_id), ["skipped", "skipped", "skipped"]);
    assert.equal(second.state_id, first.state_id);
    assert.notEqual(second.instance_id, first.instance_id);
    const sum = await hostPsql(second.dsn, "select sum(id) from t");
    assert.equal(sum.stdout, "6", sum.stderr);
    assert.ok((await plan(sandbox, args, sandbox.dir)).every((task) => task.cached));

    // Editing only the last file re-executes only the last step.
    await Deno.writeTextFile(join(sandbox.dir, "c.sql"), "insert into t values (30);");
    const third = await prepare(sandbox, args, { cwd: sandbox.dir });
    assert.deepEqual(await executeStatuses(sandbox, third.job_id), ["skipped", "skipped", "succeeded"]);
    assert.equal((await hostPsql(third.dsn, "select sum(id) from t")).stdout, "33");
    // The instances are isolated: writing into one leaves the other alone.
    assert.equal((await hostPsql(first.dsn, "insert into t values (100)")).code, 0);
    assert.equal((await hostPsql(second.dsn, "select sum(id) from t")).stdout, "6");
  });

  test("\\i and \\ir spellings of the same content give the same state; editing the include changes it", async (sandbox) => {
    await writeFiles(sandbox.dir, {
      "lib/schema.sql": "create table inc(id int);",
      "main_i.sql": "\\i lib/schema.sql\n",
      "main_ir.sql": "\\ir 'lib/schema.sql'\n",
    });
    const viaI = await plan(sandbox, ["-f", "main_i.sql"], sandbox.dir);
    const viaIr = await plan(sandbox, ["-f", "main_ir.sql"], sandbox.dir);
    assert.equal(viaI[0]?.output_state_id, viaIr[0]?.output_state_id);
    const prepared = await prepare(sandbox, ["-f", "main_ir.sql"], { cwd: sandbox.dir });
    assert.equal(prepared.state_id, viaI[0]?.output_state_id);
    assert.equal((await hostPsql(prepared.dsn, "select count(*) from inc")).stdout, "0");
    await Deno.writeTextFile(join(sandbox.dir, "lib/schema.sql"), "create table inc(id int, note text);");
    const edited = await plan(sandbox, ["-f", "main_i.sql"], sandbox.dir);
    assert.notEqual(edited[0]?.output_state_id, viaI[0]?.output_state_id);
    assert.equal(edited[0]?.cached, false);
  });

  test("-v values are keyed, and stdin and -f of the same content agree", async (sandbox) => {
    await writeFiles(sandbox.dir, { "v.sql": "create table v as select :'x'::text as x;" });
    const one = await plan(sandbox, ["-v", "x=1", "-f", "v.sql"], sandbox.dir);
    const two = await plan(sandbox, ["-v", "x=2", "-f", "v.sql"], sandbox.dir);
    assert.notEqual(one[0]?.output_state_id, two[0]?.output_state_id);
    const viaFile = await prepare(sandbox, ["-v", "x=1", "-f", "v.sql"], { cwd: sandbox.dir });
    const viaStdin = await prepare(sandbox, ["-v", "x=1", "-f", "-"], {
      cwd: sandbox.dir,
      stdin: await Deno.readTextFile(join(sandbox.dir, "v.sql")),
    });
    assert.equal(viaStdin.state_id, viaFile.state_id);
    assert.equal((await hostPsql(viaStdin.dsn, "select x from v")).stdout, "1");
  });

  test("a failing statement fails the job and publishes nothing; earlier steps stay cached", async (sandbox) => {
    await writeFiles(sandbox.dir, {
      "ok.sql": "create table ok(id int);",
      "bad.sql": "insert into missing values (1);",
    });
    const before = await countStates(sandbox);
    const result = await sandbox.cli([
      "prepare:psql",
      ...imageFlag(sandbox),
      "--",
      "-f",
      "ok.sql",
      "-f",
      "bad.sql",
    ], {
      cwd: sandbox.dir,
    });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /relation "missing" does not exist/);
    assert.equal(result.stdout, "");
    assert.equal(await countStates(sandbox), before + 1, "only the first step's state is published");
    assert.equal(await countInstances(sandbox), 0);
    const tasks = await plan(sandbox, ["-f", "ok.sql", "-f", "bad.sql"], sandbox.dir);
    assert.deepEqual(tasks.map((task) => task.cached), [true, false]);
    assert.deepEqual(postgresUnder(join(sandbox.storeRoot, "jobs")), []);
    assert.deepEqual(await containersLeft(join(sandbox.storeRoot, "jobs")), []);
  });

  test("a 40-step series gives the data of one psql over all files; editing the last or adding one runs one step", async (sandbox) => {
    const files = await writeMigrations(sandbox.dir, 40);
    const args = files.flatMap((file) => ["-f", file]);
    const series = await prepare(sandbox, args, { cwd: sandbox.dir });
    assert.deepEqual(await executeStatuses(sandbox, series.job_id), files.map(() => "succeeded"));
    const byHand = await prepare(sandbox, ["-c", "select 1"]);
    const ran = await hostPsqlFiles(byHand.dsn, files.map((file) => join(sandbox.dir, file)));
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(await contentDigest(series.dsn), await contentDigest(byHand.dsn));
    // The last two states are always kept.
    const tasks = await plan(sandbox, args, sandbox.dir);
    assert.ok(tasks.every((task) => task.cached));
    assert.deepEqual(tasks.slice(-2).map((task) => task.included_in), [undefined, undefined]);

    await Deno.writeTextFile(
      join(sandbox.dir, files[39]!),
      "create table m39 (id int primary key, v text);\ninsert into m39 values (1000, 'edited');\n",
    );
    const edited = await prepare(sandbox, args, { cwd: sandbox.dir });
    const editedStatuses = await executeStatuses(sandbox, edited.job_id);
    assert.deepEqual(editedStatuses.slice(0, 39), files.slice(0, 39).map(() => "skipped"));
    assert.equal(editedStatuses[39], "succeeded");
    assert.equal((await hostPsql(edited.dsn, "select v from m39 where id = 1000")).stdout, "edited");

    await Deno.writeTextFile(join(sandbox.dir, "m40.sql"), "create table m40 as select 40 as id;\n");
    const added = await prepare(sandbox, [...args, "-f", "m40.sql"], { cwd: sandbox.dir });
    const addedStatuses = await executeStatuses(sandbox, added.job_id);
    assert.equal(addedStatuses.filter((status) => status === "succeeded").length, 1);
    assert.equal(addedStatuses[40], "succeeded");
  });

  test("a miss in the middle of a series resumes from the nearest kept state", async (sandbox) => {
    // Steps slow enough that some intermediate states are kept by cost.
    const files = await writeMigrations(sandbox.dir, 12, "select pg_sleep(0.5);");
    const args = files.flatMap((file) => ["-f", file]);
    await prepare(sandbox, args, { cwd: sandbox.dir });
    const before = await plan(sandbox, args, sandbox.dir);
    const kept = before.flatMap((task, index) => task.included_in === undefined ? [index] : []);
    // Which intermediates are kept depends on measured costs (a loaded machine keeps fewer): change
    // the step after the last one kept by cost, so that the nearest kept ancestor is an intermediate.
    const ancestor = Math.max(-1, ...kept.filter((index) => index < files.length - 2));
    assert.ok(ancestor >= 0, `an intermediate state is kept: ${kept}`);
    const changed = ancestor + 1;
    await Deno.writeTextFile(join(sandbox.dir, files[changed]!), "create table changed(id int);\n", {
      append: true,
    });
    const after = await plan(sandbox, args, sandbox.dir);
    assert.deepEqual(after.map((task) => task.cached), files.map((_, index) => index <= ancestor));
    const resumed = await prepare(sandbox, args, { cwd: sandbox.dir });
    assert.deepEqual(
      await executeStatuses(sandbox, resumed.job_id),
      files.map((_, index) => index <= ancestor ? "skipped" : "succeeded"),
      `kept states before the change: ${kept}`,
    );
    assert.equal((await hostPsql(resumed.dsn, "select count(*) from changed")).stdout, "0");
    assert.equal((await hostPsql(resumed.dsn, "select count(*) from m11")).stdout, "5");
  });

  test("a failing step in the middle of a series is the one reported", async (sandbox) => {
    const files = await writeMigrations(sandbox.dir, 10);
    await Deno.writeTextFile(join(sandbox.dir, files[6]!), "create table fine(id int);\nselect 1/0;\n");
    const result = await sandbox.cli([
      "prepare:psql",
      ...imageFlag(sandbox),
      "--no-watch",
      "--",
      ...files.flatMap((file) => ["-f", file]),
    ], { cwd: sandbox.dir });
    const jobId = /JOB_ID=([0-9a-f]{32})/.exec(result.stdout)?.[1];
    assert.ok(jobId, result.stdout + result.stderr);
    using client = await sandbox.client();
    assert.ok(await waitFor(async () => (await client.job(jobId)).status === "failed", 60_000));
    const status = await client.job(jobId);
    assert.equal(status.error?.details?.task_id, "execute-6", JSON.stringify(status.error));
    assert.match(status.error?.message ?? "", /Step execute-6 failed[\s\S]*division by zero/);
    const statuses = await executeStatuses(sandbox, jobId);
    assert.deepEqual(statuses.slice(0, 7), [...files.slice(0, 6).map(() => "succeeded"), "failed"]);
  });

  test("one psql series mixes -c, -f and -f -, each step in a fresh session", async (sandbox) => {
    await writeFiles(sandbox.dir, {
      "path.sql": "select pg_catalog.set_config('search_path', '', false);\ncreate table public.a(id int);\n",
      "var.sql": "\\set leaked 1\n",
      "check.sql":
        "\\if :{?leaked}\ncreate table leaked(id int);\n\\endif\ncreate table unqualified(id int);\n",
      "db.sql": "create database other;\n\\c other\ncreate table elsewhere(id int);\n",
      "open.sql": "begin;\ncreate table uncommitted(id int);\n",
    });
    const args = [
      ...["-f", "path.sql", "-c", "create table b(id int)", "-f", "var.sql", "-f", "check.sql", "-f", "-"],
      ...[
        "-f",
        "db.sql",
        "-f",
        "open.sql",
        "-c",
        "insert into a values (1)",
        "-c",
        "insert into b values (2)",
      ],
    ];
    const prepared = await prepare(sandbox, args, {
      cwd: sandbox.dir,
      stdin: "insert into unqualified values (3);\n",
    });
    const tables = await hostPsql(
      prepared.dsn,
      "select string_agg(tablename, ',' order by tablename) from pg_tables where schemaname = 'public'",
    );
    assert.equal(
      tables.stdout,
      "a,b,unqualified",
      "no leaked variable, no uncommitted table, back in postgres",
    );
    const sum = await hostPsql(
      prepared.dsn,
      "select (select sum(id) from a) + (select sum(id) from b) + (select sum(id) from unqualified)",
    );
    assert.equal(sum.stdout, "6");
  });

  test("two jobs preparing the same series at once build each kept state once", async (sandbox) => {
    const files = await writeMigrations(sandbox.dir, 10);
    const args = files.flatMap((file) => ["-f", file]);
    const [one, two] = await Promise.all([
      prepare(sandbox, args, { cwd: sandbox.dir }),
      prepare(sandbox, args, { cwd: sandbox.dir }),
    ]);
    assert.equal(one.state_id, two.state_id);
    const statuses = [
      ...await executeStatuses(sandbox, one.job_id),
      ...await executeStatuses(sandbox, two.job_id),
    ];
    assert.equal(statuses.filter((status) => status === "succeeded").length, 10, "each step ran in one job");
    assert.equal(statuses.filter((status) => status === "skipped").length, 10);
    assert.equal((await hostPsql(two.dsn, "select count(*) from m9")).stdout, "5");
  });

  test("cancel stops the running step; the job ends cancelled and leaves no server", async (sandbox) => {
    const result = await sandbox.cliOk([
      "prepare:psql",
      ...imageFlag(sandbox),
      "--no-watch",
      "--",
      "-c",
      "select pg_sleep(60)",
    ], {
      cwd: sandbox.dir,
    });
    const jobId = /JOB_ID=([0-9a-f]{32})/.exec(result.stdout)?.[1];
    assert.ok(jobId, result.stdout);
    using client = await sandbox.client();
    assert.ok(await waitFor(async () => (await executeStatuses(sandbox, jobId)).includes("running"), 30_000));
    await client.cancelJob(jobId);
    assert.ok(await waitFor(async () => (await client.job(jobId)).status === "cancelled", 30_000));
    const status = await client.job(jobId);
    assert.equal(status.error?.code, "cancelled");
    assert.ok(await waitFor(() => postgresUnder(sandbox.storeRoot).length === 0, 10_000), "no server left");
    assert.ok(await waitFor(async () => (await containersLeft(sandbox.storeRoot)).length === 0, 10_000));
    assert.equal(await countStates(sandbox), 0);
  });

  test("killing the engine during a step: the restarted engine ends the job with no half-built state or stray server", async (sandbox) => {
    // An instance that is running when the engine dies must survive it, and be cleanly removable later.
    const running = await prepare(sandbox, ["-c", "create table warm(id int)"]);
    const result = await sandbox.cliOk([
      "prepare:psql",
      ...imageFlag(sandbox),
      "--no-watch",
      "--",
      "-c",
      "select pg_sleep(3)",
      "-c",
      "create table slow as select 1 as x",
    ], { cwd: sandbox.dir });
    const jobId = /JOB_ID=([0-9a-f]{32})/.exec(result.stdout)?.[1] as string;
    const jobsDir = join(sandbox.storeRoot, "jobs");
    assert.ok(await waitFor(() => postgresUnder(jobsDir).length > 0, 30_000), "the step's server started");
    const info = await sandbox.engineInfo();
    Deno.kill(info!.pid, "SIGKILL");
    await waitFor(() => !processAlive(info!.pid), 5000);
    assert.ok(postgresUnder(jobsDir).length > 0, "the step's server outlived the engine");
    // Any command starts a new engine, which recovers and resumes the job.
    const watched = await sandbox.cli(["-v", "--output", "json", "watch", jobId]);
    assert.equal(watched.code, 0, watched.stderr);
    using client = await sandbox.client();
    const status = await client.job(jobId);
    assert.equal(status.status, "succeeded");
    const instance = await client.instance(status.result!.instance_id);
    assert.equal((await hostPsql(instance.dsn, "select count(*) from slow")).stdout, "1");
    assert.equal(
      (await hostPsql(running.dsn, "select count(*) from warm")).stdout,
      "0",
      "the running instance survived",
    );
    const jobServers = postgresUnder(join(sandbox.storeRoot, "jobs"));
    assert.deepEqual(jobServers, [], "no server of the job's build area");
    assert.deepEqual(await containersLeft(jobsDir), [], "no container of the job's build area");
    const leftovers = [...Deno.readDirSync(join(sandbox.storeRoot, "engines"))].length;
    assert.ok(leftovers > 0);
    for (const engineDir of Deno.readDirSync(join(sandbox.storeRoot, "engines"))) {
      for (const versionDir of Deno.readDirSync(join(sandbox.storeRoot, "engines", engineDir.name))) {
        const states = join(sandbox.storeRoot, "engines", engineDir.name, versionDir.name, "states");
        const names = [...Deno.readDirSync(states)].map((entry) => entry.name);
        assert.deepEqual(names.filter((name) => name.startsWith(".tmp-")), [], "no temporary state left");
        assert.equal(names.length, 3, "the running instance's state and the job's two");
      }
    }
    // Once its instance is deleted, nothing of the job or the instance remains: no server, no mount, no
    // subvolume, no build area.
    await sandbox.cliOk(["rm", status.result!.instance_id]);
    await sandbox.cliOk(["rm", running.instance_id]);
    assert.deepEqual(postgresUnder(sandbox.storeRoot), []);
    assert.deepEqual(await containersLeft(sandbox.storeRoot), [], "no container left");
    const mounts = Deno.readTextFileSync("/proc/self/mountinfo").split("\n").map((line) =>
      line.split(" ")[4] ?? ""
    );
    assert.deepEqual(
      mounts.filter((point) => point.startsWith(`${sandbox.storeRoot}/`)),
      [],
      "no mount left",
    );
    assert.deepEqual([...Deno.readDirSync(jobsDir)], [], "no build area left");
    if (kind === "btrfs") {
      const subvolumes = new TextDecoder().decode(
        (await new Deno.Command("btrfs", { args: ["subvolume", "list", sandbox.storeRoot], stdout: "piped" })
          .output()).stdout,
      );
      assert.doesNotMatch(subvolumes, /jobs\/|instances\/|\.tmp-/);
    }
  });

  test("Chinook (drops and creates a database, uses \\c) prepares and is queryable through the DSN", async (sandbox) => {
    const prepared = await prepare(sandbox, [
      "-q",
      "-f",
      join(REPO, "examples/chinook/Chinook_PostgreSql.sql"),
    ]);
    const dsn = prepared.dsn.replace(/\/postgres$/, "/chinook");
    const tracks = await hostPsql(dsn, "select count(*) from track");
    assert.equal(tracks.stdout, "3503", tracks.stderr);
  });
  test("the composite form runs psql (in the container on docker and podman), reads bundled options, passes its exit code on and leaves nothing", async (sandbox) => {
    await writeFiles(sandbox.dir, { "bad.sql": "select 1;\nselect 1/0;\nselect 2;\n" });
    const composite = (step: string[], run: string[]) =>
      sandbox.cli(["prepare:psql", ...imageFlag(sandbox), "--", ...step, "run:psql", "--", ...run], {
        cwd: sandbox.dir,
      });
    const ok = await composite(
      ["-c", "create table t as select generate_series(1, 5) as id"],
      ["-A", "-t", "-c", "select sum(id) from t"],
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "15\n");
    // Bundled short options with a relative file, in both stages (read as psql's getopt reads them).
    await writeFiles(sandbox.dir, {
      "create.sql": "create table t as select generate_series(1, 4) as id;\n",
      "sum.sql": "select sum(id) from t;\n",
    });
    const bundled = await composite(["-qf", "create.sql"], ["-Atf", "sum.sql"]);
    assert.equal(bundled.code, 0, bundled.stderr);
    assert.equal(bundled.stdout, "10\n");
    const failedCommand = await composite(["-c", "select 1"], ["-c", "select 1/0"]);
    assert.equal(failedCommand.code, 1, "psql exits 1 when a -c command fails");
    assert.match(failedCommand.stderr, /division by zero/);
    const failedScript = await composite(["-c", "select 1"], ["-v", "ON_ERROR_STOP=1", "-f", "bad.sql"]);
    assert.equal(failedScript.code, 3, "psql exits 3 when a script stops on an error");
    assert.match(failedScript.stderr, /division by zero/);
    assert.equal(await countInstances(sandbox), 0, "the failed runs' instances are deleted too");
    assert.deepEqual(await containersLeft(sandbox.storeRoot), []);
  });

  test("run:psql -- -Atf rel.sql on an instance reads the script from the caller's directory", async (sandbox) => {
    const scripts = join(sandbox.dir, "scripts");
    await writeFiles(scripts, {
      "create.sql": "create table t as select generate_series(1, 4) as id;\n",
      "sum.sql": "select sum(id) from t;\n",
    });
    const prepared = await prepare(sandbox, ["-qf", "create.sql"], { cwd: scripts });
    const ran = await sandbox.cli(["run:psql", "--instance", prepared.instance_id, "--", "-Atf", "sum.sql"], {
      cwd: scripts,
    });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout, "10\n");
    const missing = await sandbox.cli([
      "run:psql",
      "--instance",
      prepared.instance_id,
      "--",
      "-Atf",
      "sum.sql",
    ], {
      cwd: sandbox.dir,
    });
    assert.notEqual(missing.code, 0, "a relative path is the caller's, not the engine's or the instance's");
  });

  if (runtime !== undefined) {
    test(`${runtime} rm -f of an instance's container: run:psql recreates it and the instance reports it`, async (sandbox) => {
      const prepared = await prepare(sandbox, ["-c", "create table kept as select 41 as v"]);
      const runtimeId = async () => {
        const listed = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--instances"])).stdout);
        return listed.instances.find((i: { instance_id: string }) => i.instance_id === prepared.instance_id)
          .runtime_id as string;
      };
      const before = await runtimeId();
      const removed = await new Deno.Command(runtime, {
        args: ["rm", "-f", before],
        stdout: "null",
        stderr: "piped",
      })
        .output();
      assert.ok(removed.success, new TextDecoder().decode(removed.stderr));
      const ran = await sandbox.query(prepared.instance_id, "select v + 1 from kept", ["-v"]);
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout, "42\n");
      assert.match(ran.stderr, /not running - restarting/);
      const after = await runtimeId();
      assert.notEqual(after, before);
      assert.deepEqual(await containersLeft(sandbox.storeRoot), [after]);
      // pgbench runs in the recreated container too (its database is positional).
      const bench = await sandbox.cli([
        "run:pgbench",
        "--instance",
        prepared.instance_id,
        "--",
        "-i",
        "-s",
        "1",
        "-q",
      ]);
      assert.equal(bench.code, 0, bench.stderr);
      const count = await sandbox.query(prepared.instance_id, "select count(*) from pgbench_branches");
      assert.equal(count.stdout, "1\n", count.stderr);
    });
  }

  test("a superuser of an instance cannot change the cached state it came from (COPY … TO PROGRAM)", async (sandbox) => {
    const prepared = await prepare(sandbox, ["-c", "create table t (x int)"]);
    const stateDir = await findStateDir(sandbox.storeRoot, prepared.state_id);
    const before = await digestTree(stateDir);
    const hba = join(stateDir, "pg_hba.conf");
    const attack = await sandbox.query(
      prepared.instance_id,
      `copy (select 'host all all 0.0.0.0/0 trust') to program 'cat >> ${hba}; echo poisoned > ${stateDir}/x'`,
    );
    assert.notEqual(attack.code, 0, "the write reached the state's files");
    assert.deepEqual(await digestTree(stateDir), before, "the cached state's files are unchanged");
    // The next instance of the same state is as clean as the first.
    const next = await prepare(sandbox, ["-c", "create table t (x int)"]);
    assert.equal(next.state_id, prepared.state_id);
    assert.equal((await sandbox.query(next.instance_id, "select count(*) from t")).stdout, "0\n");
  });
}
