/**
 * Tests of the Liquibase building blocks (`engine/prepare/liquibase/`) against the real Liquibase
 * (the bundled npm `liquibase@4.28.1` from `scripts/install-liquibase.sh`, or the one on PATH) and a
 * real PostgreSQL started here in a temp dir, listening on 127.0.0.1 with a password (JDBC needs TCP).
 *
 * Without Liquibase, Java or PostgreSQL the tests are skipped, except under `CI=true`, where they fail.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run, runOk, spawnStreaming, type StreamingChild } from "../engine/exec.ts";
import { applyArgs, parseLiquibaseArgs, planArgs } from "../engine/prepare/liquibase/lb_args.ts";
import {
  changesetRef,
  clearStaleLockSql,
  parsePendingChangesets,
  type PendingChangeset,
  ranChangesets,
} from "../engine/prepare/liquibase/lb_plan.ts";
import {
  bundledLiquibasePath,
  findLiquibase,
  type LiquibaseConnection,
  type LiquibaseTool,
  runLiquibase,
} from "../engine/prepare/liquibase/lb_tool.ts";
import { SqlrsError } from "../shared/errors.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const EXAMPLE = "examples/liquibase/changelog.xml";
const PASSWORD = "lb-test p@ss:w/rd %1";
const CI = Deno.env.get("CI") === "true";

/** The environment without any `liquibase` on PATH, so that the bundled one is found. */
function envWithoutPathLiquibase(): Record<string, string> {
  const env = Deno.env.toObject();
  env.PATH = (env.PATH ?? "").split(":").filter((dir) => {
    try {
      Deno.statSync(join(dir, "liquibase"));
      return false;
    } catch {
      return true;
    }
  }).join(":");
  return env;
}

function pgBinDir(): string | null {
  const candidates: string[] = [];
  const fromEnv = Deno.env.get("SQLRS_PG_BIN");
  if (fromEnv) candidates.push(fromEnv);
  try {
    const majors = [...Deno.readDirSync("/usr/lib/postgresql")].map((e) => e.name).filter((n) =>
      /^\d+$/.test(n)
    );
    majors.sort((a, b) => Number(b) - Number(a));
    candidates.push(...majors.map((major) => `/usr/lib/postgresql/${major}/bin`));
  } catch {
    // no Debian layout
  }
  return candidates.find((dir) => ["initdb", "postgres", "psql"].every((bin) => exists(join(dir, bin)))) ??
    null;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Why the tests cannot run here, or null. */
async function missing(): Promise<{ tool: LiquibaseTool | null; reason: string | null }> {
  if (pgBinDir() === null) return { tool: null, reason: "PostgreSQL server binaries (initdb, postgres)" };
  try {
    return { tool: await findLiquibase(null), reason: null };
  } catch (error) {
    return { tool: null, reason: `a working Liquibase (${error instanceof Error ? error.message : error})` };
  }
}

const { tool: foundTool, reason } = await missing();

/** A PostgreSQL cluster in a temp dir, owned by the `postgres` user when running as root. */
class TestServer implements AsyncDisposable {
  private constructor(
    readonly root: string,
    readonly bin: string,
    readonly port: number,
    private readonly child: StreamingChild,
    private readonly log: string[],
  ) {}

  static async start(): Promise<TestServer> {
    const bin = pgBinDir() as string;
    const root = await Deno.makeTempDir({ prefix: "sqlrs-lb-test-" });
    await Deno.chmod(root, 0o755);
    let owner: { uid: number; gid: number } | undefined;
    if (Deno.uid() === 0) {
      owner = {
        uid: Number((await runOk(["id", "-u", "postgres"])).trim()),
        gid: Number((await runOk(["id", "-g", "postgres"])).trim()),
      };
    }
    const data = join(root, "data");
    const sockets = join(root, "sockets");
    const pwfile = join(root, "pwfile");
    await Deno.mkdir(sockets);
    await Deno.mkdir(data, { mode: 0o700 });
    await Deno.writeTextFile(pwfile, `${PASSWORD}\n`);
    if (owner !== undefined) {
      await Deno.chown(data, owner.uid, owner.gid);
      await Deno.chown(sockets, owner.uid, owner.gid);
      await Deno.chown(pwfile, owner.uid, owner.gid);
    }
    const as = owner === undefined ? {} : { uid: owner.uid, gid: owner.gid };
    const initdb = [
      join(bin, "initdb"),
      "-N",
      "-D",
      data,
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "-A",
      "scram-sha-256",
    ];
    try {
      await runOk([...initdb, `--pwfile=${pwfile}`], { ...as, cwd: root });
    } catch (error) {
      await Deno.remove(root, { recursive: true }).catch(() => {});
      throw error;
    }
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const child = spawnStreaming(
      [
        join(bin, "postgres"),
        "-D",
        data,
        "-p",
        String(port),
        "-k",
        sockets,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
      ],
      { ...as, cwd: root },
    );
    const log: string[] = [];
    const drain = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) log.push(chunk);
    };
    void drain(child.stdout);
    void drain(child.stderr);
    const server = new TestServer(root, bin, port, child, log);
    const deadline = Date.now() + 20_000;
    while ((await run([join(bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", String(port)])).code !== 0) {
      if (Date.now() > deadline) {
        await server[Symbol.asyncDispose]();
        throw new Error(`PostgreSQL did not start:\n${log.join("")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return server;
  }

  connection(database: string): LiquibaseConnection {
    return { host: "127.0.0.1", port: this.port, database, user: "postgres", password: PASSWORD };
  }

  /** Runs SQL in `database` and returns psql's unaligned, tuples-only output. */
  async psql(database: string, sql: string): Promise<string> {
    const out = await runOk(
      [
        join(this.bin, "psql"),
        "-X",
        "-v",
        "ON_ERROR_STOP=1",
        "-At",
        "-h",
        "127.0.0.1",
        "-p",
        String(this.port),
        "-U",
        "postgres",
        "-d",
        database,
        "-c",
        sql,
      ],
      { env: { PGPASSWORD: PASSWORD, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" } },
    );
    return out.trim();
  }

  async createDatabase(name: string): Promise<void> {
    await this.psql("postgres", `CREATE DATABASE "${name}"`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.child.kill("SIGINT");
    await this.child.status;
    await Deno.remove(this.root, { recursive: true }).catch(() => {});
  }
}

function isSqlrsError(code: string, pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof SqlrsError, `expected a SqlrsError, got ${error}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  };
}

/** The java processes whose working directory is `dir`. */
function javaProcessesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (Deno.readLinkSync(`/proc/${entry.name}/cwd`) !== dir) continue;
      if (Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes("java")) {
        pids.push(Number(entry.name));
      }
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}

Deno.test({
  name: "Liquibase building blocks against real Liquibase and PostgreSQL",
  ignore: reason !== null && !CI,
  async fn(t) {
    if (reason !== null) throw new Error(`${reason} is missing, and CI=true forbids skipping`);
    const tool = foundTool as LiquibaseTool;
    await using server = await TestServer.start();

    await t.step(
      "findLiquibase() finds the bundled install, caches its version, honours PATH and config",
      async () => {
        const env = envWithoutPathLiquibase();
        const bundled = bundledLiquibasePath(env);
        if (!exists(bundled ?? "")) {
          assert.ok(
            !CI,
            `CI must install the bundled Liquibase (scripts/install-liquibase.sh), missing: ${bundled}`,
          );
          console.warn(`skipped the bundled-install checks: nothing at ${bundled}`);
          return;
        }
        const first = await findLiquibase(null, { env });
        assert.deepEqual(first, { path: bundled, version: first.version, source: "bundled" });
        assert.match(first.version, /^4\.28\./);
        const started = performance.now();
        assert.deepEqual(await findLiquibase(null, { env }), first);
        assert.ok(performance.now() - started < 200, "the version is cached");

        const binDir = await Deno.makeTempDir({ prefix: "sqlrs-lb-bin-" });
        try {
          await Deno.symlink(bundled as string, join(binDir, "liquibase"));
          const onPath = await findLiquibase(null, { env: { ...env, PATH: `${binDir}:${env.PATH}` } });
          assert.deepEqual(onPath, {
            path: join(binDir, "liquibase"),
            version: first.version,
            source: "path",
          });
          const configured = await findLiquibase(bundled, { env: { ...env, PATH: `${binDir}:${env.PATH}` } });
          assert.equal(configured.source, "config");
          assert.equal(configured.path, bundled);

          // No Java: a PATH with just what the launcher script needs, and no JAVA_HOME.
          for (const tool of ["bash", "dirname", "ls", "expr", "which"]) {
            const path = (await runOk(["bash", "-c", `command -v ${tool}`])).trim();
            await Deno.symlink(path, join(binDir, tool));
          }
          const noJava = { PATH: binDir, HOME: env.HOME ?? "/" };
          await assert.rejects(
            findLiquibase(null, { env: noJava }),
            isSqlrsError(
              "unavailable",
              /cannot start: no Java runtime; fix: apt-get install -y default-jre-headless/,
            ),
          );
        } finally {
          await Deno.remove(binDir, { recursive: true });
        }
      },
    );

    await t.step(
      "update-sql of the example parses into its changesets; contexts and counts change the plan",
      async () => {
        await server.createDatabase("plan");
        const url = server.connection("plan");
        // No lock table yet: clearing is a no-op.
        await server.psql("plan", clearStaleLockSql());
        const lines: string[] = [];
        const args = parseLiquibaseArgs(["update", "--changelog-file", EXAMPLE], REPO);
        const result = await runLiquibase(tool, planArgs(args), {
          cwd: REPO,
          url,
          onLine: (line) => lines.push(line),
        });
        assert.equal(result.code, 0, result.stderr);
        assert.ok(lines.length > 10);
        for (const text of [result.stdout, result.stderr, result.commandLine, lines.join("\n")]) {
          assert.ok(!text.includes(PASSWORD), "the password never shows");
        }
        assert.match(
          result.commandLine,
          /--url=jdbc:postgresql:\/\/127\.0\.0\.1:\d+\/plan --username=postgres --log-level=FINE update-sql/,
        );
        const pending = parsePendingChangesets(result.stdout);
        assert.deepEqual(pending.map((c) => [c.path, c.id, c.author]), [
          ["examples/liquibase/changes/001-customers.yaml", "create-customer", "alice"],
          ["examples/liquibase/changes/001-customers.yaml", "customer-email-unique", "alice"],
          ["examples/liquibase/changes/002-orders.sql", "create-orders", "bob"],
          ["examples/liquibase/changes/002-orders.sql", "seed-customers", "bob"],
          ["examples/liquibase/changes/003-demo-data.json", "demo-orders", "carol"],
        ]);
        for (const changeset of pending) assert.match(changeset.checksum, /^9:[0-9a-f]{32}$/);
        assert.equal(new Set(pending.map((c) => c.checksum)).size, 5);
        assert.match(pending[0]?.sql ?? "", /CREATE TABLE public\.customer/);
        assert.match(pending[3]?.sql ?? "", /insert into customer \(name, email\) values/);
        assert.equal(
          await server.psql("plan", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
          "0",
          "update-sql changes nothing",
        );

        const prod = parseLiquibaseArgs(["update", "--changelog-file", EXAMPLE, "--contexts", "prod"], REPO);
        const prodResult = await runLiquibase(tool, planArgs(prod), { cwd: REPO, url });
        assert.equal(prodResult.code, 0, prodResult.stderr);
        const prodPending = parsePendingChangesets(prodResult.stdout);
        assert.deepEqual(prodPending.map((c) => c.id), pending.slice(0, 4).map((c) => c.id));
        assert.deepEqual(prodPending.map((c) => c.checksum), pending.slice(0, 4).map((c) => c.checksum));

        const two = parseLiquibaseArgs(["update-count", "--count=2", "--changelog-file", EXAMPLE], REPO);
        const twoResult = await runLiquibase(tool, planArgs(two), { cwd: REPO, url });
        assert.equal(twoResult.code, 0, twoResult.stderr);
        assert.deepEqual(parsePendingChangesets(twoResult.stdout).map((c) => c.id), [
          "create-customer",
          "customer-email-unique",
        ]);
      },
    );

    await t.step(
      "update-count --count 1 applies exactly one changeset; checksums match databasechangelog",
      async () => {
        await server.createDatabase("apply");
        const url = server.connection("apply");
        const args = parseLiquibaseArgs(["update", "--changelog-file", EXAMPLE], REPO);
        const planned = parsePendingChangesets(
          (await runLiquibase(tool, planArgs(args), { cwd: REPO, url })).stdout,
        );
        assert.equal(planned.length, 5);

        const applied = await runLiquibase(tool, applyArgs(args, 1), { cwd: REPO, url });
        assert.equal(applied.code, 0, applied.stderr);
        assert.deepEqual(ranChangesets(applied.stderr), [changesetRef(planned[0] as PendingChangeset)]);
        assert.equal(
          await server.psql(
            "apply",
            "SELECT id || '|' || author || '|' || filename || '|' || md5sum FROM databasechangelog",
          ),
          `create-customer|alice|examples/liquibase/changes/001-customers.yaml|${planned[0]?.checksum}`,
        );
        assert.equal(await server.psql("apply", "SELECT to_regclass('public.orders') IS NULL"), "t");

        const rest = parsePendingChangesets(
          (await runLiquibase(tool, planArgs(args), { cwd: REPO, url })).stdout,
        );
        assert.deepEqual(rest.map((c) => c.checksum), planned.slice(1).map((c) => c.checksum));

        const update = await runLiquibase(tool, ["update", `--changelog-file=${EXAMPLE}`], {
          cwd: REPO,
          url,
        });
        assert.equal(update.code, 0, update.stderr);
        assert.equal(
          await server.psql(
            "apply",
            "SELECT string_agg(id || '=' || md5sum, ',' ORDER BY orderexecuted) FROM databasechangelog",
          ),
          planned.map((c) => `${c.id}=${c.checksum}`).join(","),
        );
        assert.equal(await server.psql("apply", "SELECT count(*) FROM orders"), "1");
        const none = await runLiquibase(tool, planArgs(args), { cwd: REPO, url });
        assert.equal(none.code, 0, none.stderr);
        assert.deepEqual(parsePendingChangesets(none.stdout), []);
      },
    );

    await t.step("clearStaleLockSql() releases a lock left by a killed Liquibase", async () => {
      await server.psql(
        "apply",
        "UPDATE databasechangeloglock SET locked = TRUE, lockgranted = now(), lockedby = 'killed liquibase'",
      );
      await server.psql("apply", clearStaleLockSql());
      assert.equal(
        await server.psql(
          "apply",
          "SELECT locked::text || coalesce(lockedby, '-') FROM databasechangeloglock",
        ),
        "false-",
      );
      // Liquibase is not blocked (it would wait 5 minutes for a held lock).
      const url = server.connection("apply");
      const args = parseLiquibaseArgs(["update", "--changelog-file", EXAMPLE], REPO);
      const started = performance.now();
      const result = await runLiquibase(tool, planArgs(args), { cwd: REPO, url });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(performance.now() - started < 60_000);
    });

    await t.step(
      "a failing changeset fails with Liquibase's message; the connection beats liquibase.properties",
      async () => {
        await server.createDatabase("failing");
        const project = await Deno.makeTempDir({ prefix: "sqlrs-lb-project-" });
        try {
          await Deno.writeTextFile(
            join(project, "bad.sql"),
            "--liquibase formatted sql\n\n--changeset x:1\ncreate table ok(id int);\n\n--changeset x:2\ninsert into nosuch values (1);\n",
          );
          // A typical project file pointing elsewhere: sqlrs's connection must win.
          await Deno.writeTextFile(
            join(project, "liquibase.properties"),
            "changeLogFile: bad.sql\nurl: jdbc:postgresql://127.0.0.1:1/elsewhere\nusername: nobody\npassword: wrong-password\n",
          );
          const url = server.connection("failing");
          const args = parseLiquibaseArgs(["update"], project);
          assert.equal(args.defaultsFile, join(project, "liquibase.properties"));
          const plan = await runLiquibase(tool, planArgs(args), { cwd: project, url });
          assert.equal(plan.code, 0, plan.stderr);
          assert.deepEqual(parsePendingChangesets(plan.stdout).map((c) => [c.path, c.id, c.author]), [
            ["bad.sql", "1", "x"],
            ["bad.sql", "2", "x"],
          ]);
          assert.equal((await runLiquibase(tool, applyArgs(args, 1), { cwd: project, url })).code, 0);
          const failed = await runLiquibase(tool, applyArgs(args, 1), { cwd: project, url });
          assert.notEqual(failed.code, 0);
          const { liquibaseFailure } = await import("../engine/prepare/liquibase/lb_tool.ts");
          assert.match(liquibaseFailure(failed), /Migration failed for changeset bad\.sql::2::x/);
          assert.match(liquibaseFailure(failed), /relation "nosuch" does not exist/);
          assert.equal(
            await server.psql("failing", "SELECT string_agg(id, ',') FROM databasechangelog"),
            "1",
          );
        } finally {
          await Deno.remove(project, { recursive: true });
        }
      },
    );

    await t.step(
      "ranChangesets() shows when a runAlways changeset breaks one-at-a-time application",
      async () => {
        await server.createDatabase("run_always");
        const project = await Deno.makeTempDir({ prefix: "sqlrs-lb-runalways-" });
        try {
          await Deno.writeTextFile(
            join(project, "cl.sql"),
            "--liquibase formatted sql\n\n--changeset x:always runAlways:true\nselect 1;\n\n--changeset x:next\ncreate table next_one(id int);\n",
          );
          const url = server.connection("run_always");
          const args = parseLiquibaseArgs(["update", "--changelog-file=cl.sql"], project);
          const planned = parsePendingChangesets(
            (await runLiquibase(tool, planArgs(args), { cwd: project, url })).stdout,
          );
          assert.deepEqual(planned.map(changesetRef), ["cl.sql::always::x", "cl.sql::next::x"]);
          const first = await runLiquibase(tool, applyArgs(args, 1), { cwd: project, url });
          assert.deepEqual(ranChangesets(first.stderr), [changesetRef(planned[0] as PendingChangeset)]);
          // The runAlways changeset is pending again, so the second step re-runs it instead of "next".
          const second = await runLiquibase(tool, applyArgs(args, 1), { cwd: project, url });
          assert.equal(second.code, 0, second.stderr);
          assert.deepEqual(ranChangesets(second.stderr), ["cl.sql::always::x"]);
          assert.notDeepEqual(ranChangesets(second.stderr), [changesetRef(planned[1] as PendingChangeset)]);
        } finally {
          await Deno.remove(project, { recursive: true });
        }
      },
    );

    await t.step("cancelling a run stops the JVM the launcher started", async () => {
      const project = await Deno.realPath(await Deno.makeTempDir({ prefix: "sqlrs-lb-cancel-" }));
      try {
        await Deno.writeTextFile(
          join(project, "cl.sql"),
          "--liquibase formatted sql\n\n--changeset x:1\nselect 1;\n",
        );
        const controller = new AbortController();
        const running = runLiquibase(tool, ["update-sql", "--changelog-file=cl.sql"], {
          cwd: project,
          url: server.connection("postgres"),
          signal: controller.signal,
        });
        const deadline = Date.now() + 10_000;
        while (javaProcessesIn(project).length === 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.ok(javaProcessesIn(project).length > 0, "java started");
        controller.abort();
        const result = await running;
        assert.notEqual(result.code, 0);
        const gone = Date.now() + 5_000;
        while (javaProcessesIn(project).length > 0 && Date.now() < gone) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.deepEqual(javaProcessesIn(project), [], "no JVM is left behind");
      } finally {
        await Deno.remove(project, { recursive: true });
      }
    });

    await t.step("refused options never reach Liquibase", () => {
      for (
        const option of [
          "--url=jdbc:postgresql://elsewhere/db",
          "--username=x",
          "--password=x",
          "--driver=x",
        ]
      ) {
        assert.throws(
          () => parseLiquibaseArgs(["update", "--changelog-file", EXAMPLE, option], REPO),
          isSqlrsError("invalid_argument", new RegExp(`${option.split("=")[0]} is not allowed`)),
        );
      }
      assert.throws(
        () => parseLiquibaseArgs(["update", "--changelog-file", "examples/liquibase/nope.xml"], REPO),
        isSqlrsError("invalid_argument", /examples\/liquibase\/nope\.xml does not exist/),
      );
    });
  },
});
