/**
 * The Liquibase step action's `runSeries` against real Liquibase and a real PostgreSQL (the host
 * runtime, a base made by initBase and `cp -a` clones of it): consecutive changesets in one
 * Liquibase run, a failure attributed to the changeset that failed, and a series resumed after a
 * runAlways changeset.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createCopyStateFS } from "../engine/statefs/copy.ts";
import { createHostRuntime } from "../engine/runtime/host/host_runtime.ts";
import type { ResolvedImage, Runtime, ServerHandle } from "../engine/runtime/types.ts";
import { planLiquibasePrepare } from "../engine/prepare/liquibase/lb_prepare.ts";
import type { Plan } from "../engine/prepare/planner.ts";
import type { JobReporter } from "../engine/prepare/executor.ts";
import type { SeriesStep } from "../engine/prepare/step_action.ts";
import { findLiquibase } from "../engine/prepare/liquibase/lb_tool.ts";
import { SqlrsError } from "../shared/errors.ts";
import { need, testNeeding } from "./_needs.ts";
import { setBuildPassword } from "../engine/instances/credentials.ts";

async function available(): Promise<boolean> {
  if (!(await createHostRuntime().probe()).available) return false;
  try {
    await findLiquibase(null);
    return true;
  } catch {
    return false;
  }
}

/** What hands over the volumes servers run on, as in the engine. */
const statefs = createCopyStateFS();

/** A host base, clones of it, and servers on them; everything is removed by dispose. */
class Bench implements AsyncDisposable {
  #clones = 0;
  readonly #servers: ServerHandle[] = [];
  private constructor(readonly runtime: Runtime, readonly image: ResolvedImage, readonly root: string) {}

  static async create(): Promise<Bench> {
    const runtime = createHostRuntime();
    const image = await runtime.resolveImage(undefined);
    const root = await Deno.makeTempDir({ prefix: "sqlrs-lb-series-" });
    await Deno.chmod(root, 0o755);
    await runtime.initBase(image, await statefs.createEmpty(join(root, "base")));
    return new Bench(runtime, image, root);
  }

  /** A server on a fresh clone of the base, with a build password for Liquibase (as the executor's). */
  async server(): Promise<ServerHandle> {
    const n = ++this.#clones;
    const volume = await statefs.clone(join(this.root, "base"), join(this.root, `clone-${n}`));
    const server = await this.runtime.start(this.image, volume, { runDir: join(this.root, `run-${n}`) });
    this.#servers.push(server);
    return await setBuildPassword(server);
  }

  async plan(workDir: string, args: string[]): Promise<Plan> {
    return await planLiquibasePrepare({ prepare_kind: "lb", liquibase_args: args, work_dir: workDir }, {
      resolveImage: () => Promise.resolve(this.image),
      stateExists: () => false,
      configuredExec: null,
      storeRoot: null,
      withBaseServer: async (_imageId, fn) => {
        const server = await this.server();
        try {
          return await fn(this.runtime, server);
        } finally {
          await this.runtime.stop(server);
        }
      },
    });
  }

  /** Applies `steps` of `plan` with the first step's runSeries on `server`. */
  async series(plan: Plan, server: ServerHandle, from: number, to: number): Promise<string[]> {
    const log: string[] = [];
    const reporter: JobReporter = {
      jobId: "series-test",
      log: (_taskId, message) => log.push(message),
      task: () => {},
    };
    const steps: SeriesStep[] = plan.steps.slice(from, to).map((step) => ({
      action: step.action,
      taskId: step.taskId,
    }));
    const first = steps[0]?.action;
    assert.ok(first?.runSeries !== undefined, "Liquibase steps apply as a series");
    await first.runSeries(
      {
        runtime: this.runtime,
        image: this.image,
        server,
        reporter,
        workDir: plan.workDir,
        signal: AbortSignal.timeout(300_000),
      },
      steps,
    );
    return log;
  }

  async query(server: ServerHandle, sql: string): Promise<string> {
    const { code, stdout, stderr } = await this.runtime.exec(this.image, server, "psql", [
      "-X",
      "-A",
      "-t",
      "-c",
      sql,
    ], { cwd: this.root });
    assert.equal(code, 0, stderr);
    return stdout.trim();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const server of this.#servers) await this.runtime.stop(server);
    await Deno.remove(this.root, { recursive: true });
  }
}

function changelog(...changesets: string[]): string {
  return `--liquibase formatted sql\n\n${changesets.join("\n")}\n`;
}

testNeeding(need(await available(), "PostgreSQL (host) and Liquibase with Java"), {
  name: "runSeries() applies Liquibase changesets in one run and attributes a failure to its changeset",
  sanitizeResources: false,
  async fn(t) {
    await using bench = await Bench.create();
    const project = join(bench.root, "project");
    await Deno.mkdir(project);
    await Deno.chmod(project, 0o755);
    const args = ["update", "--changelog-file", "changelog.sql"];

    await t.step("three changesets, one Liquibase run (one deployment id)", async () => {
      await Deno.writeTextFile(
        join(project, "changelog.sql"),
        changelog(
          "--changeset a:1\ncreate table person(id int);",
          "--changeset a:2\ninsert into person values (1);",
          "--changeset a:3\ninsert into person values (2);",
        ),
      );
      const plan = await bench.plan(project, args);
      assert.equal(plan.steps.length, 3);
      const server = await bench.server();
      const log = await bench.series(plan, server, 0, 3);
      assert.equal(log.filter((line) => /Running Changeset:/.test(line)).length, 3);
      assert.equal(
        await bench.query(
          server,
          "select count(distinct deployment_id) || ':' || count(*) from databasechangelog",
        ),
        "1:3",
      );
      assert.equal(await bench.query(server, "select count(*) from person"), "2");
    });

    await t.step("a failing changeset is named by details.task_id; those before it are applied", async () => {
      await Deno.writeTextFile(
        join(project, "changelog.sql"),
        changelog(
          "--changeset b:1\ncreate table city(id int);",
          "--changeset b:2\ninsert into nowhere values (1);",
          "--changeset b:3\ninsert into city values (1);",
        ),
      );
      const plan = await bench.plan(project, args);
      const server = await bench.server();
      await assert.rejects(bench.series(plan, server, 0, 3), (error: unknown) => {
        assert.ok(error instanceof SqlrsError);
        assert.equal(error.code, "step_failed");
        assert.equal(error.details?.task_id, plan.steps[1]?.taskId);
        assert.match(error.message, /nowhere/);
        return true;
      });
      assert.equal(await bench.query(server, "select string_agg(id, ',') from databasechangelog"), "1");
    });

    await t.step(
      "a sqlFile edited after planning fails the step as a conflict, not a stale state",
      async () => {
        await Deno.writeTextFile(join(project, "seed.sql"), "insert into seeded values (1);\n");
        await Deno.writeTextFile(
          join(project, "changelog.xml"),
          `<?xml version="1.0" encoding="UTF-8"?>
<databaseChangeLog xmlns="http://www.liquibase.org/xml/ns/dbchangelog"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.liquibase.org/xml/ns/dbchangelog http://www.liquibase.org/xml/ns/dbchangelog/dbchangelog-latest.xsd">
  <changeSet id="1" author="d"><sql>create table seeded(n int)</sql></changeSet>
  <changeSet id="2" author="d"><sqlFile path="seed.sql"/></changeSet>
</databaseChangeLog>
`,
        );
        const plan = await bench.plan(project, ["update", "--changelog-file", "changelog.xml"]);
        await Deno.writeTextFile(join(project, "seed.sql"), "insert into seeded values (2);\n");
        const server = await bench.server();
        await assert.rejects(bench.series(plan, server, 0, 2), (error: unknown) => {
          assert.ok(error instanceof SqlrsError);
          assert.equal(error.code, "conflict");
          assert.equal(error.details?.task_id, plan.steps[1]?.taskId);
          return true;
        });
      },
    );

    await t.step(
      "a series resumed after a runAlways changeset re-runs it, as liquibase update does",
      async () => {
        await Deno.writeTextFile(
          join(project, "changelog.sql"),
          changelog(
            "--changeset c:always runAlways:true\ncreate table if not exists runs(n int); insert into runs values (1);",
            "--changeset c:1\ncreate table tag(id int);",
            "--changeset c:2\ninsert into tag values (1);",
          ),
        );
        const plan = await bench.plan(project, args);
        const whole = await bench.server();
        await bench.series(plan, whole, 0, 3);
        assert.equal(await bench.query(whole, "select count(*) from runs"), "1", "once per Liquibase run");
        const resumed = await bench.server();
        await bench.series(plan, resumed, 0, 1);
        await bench.series(plan, resumed, 1, 3);
        assert.equal(await bench.query(resumed, "select count(*) from tag"), "1");
        assert.equal(await bench.query(resumed, "select count(*) from runs"), "2");
      },
    );
  },
});
