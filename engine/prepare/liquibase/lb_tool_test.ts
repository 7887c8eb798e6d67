import assert from "node:assert/strict";
import { join } from "node:path";
import { SqlrsError } from "../../../shared/errors.ts";
import {
  bundledLiquibasePath,
  FAST_JAVA_OPTS,
  findLiquibase,
  jdbcUrl,
  liquibaseEnv,
  liquibaseFailure,
  redact,
} from "./lb_tool.ts";

Deno.test("liquibaseEnv() keeps only what the launcher needs and sets the JVM options", () => {
  const env = liquibaseEnv({
    PATH: "/opt/bin:/usr/bin",
    HOME: "/home/u",
    JAVA_HOME: "/usr/lib/jvm/x",
    LIQUIBASE_COMMAND_URL: "jdbc:postgresql://prod/app",
    LIQUIBASE_COMMAND_PASSWORD: "prod-secret",
    LIQUIBASE_HOME: "/evil",
    LIQUIBASE_DEFAULTS_FILE: "/evil.properties",
    JAVA_TOOL_OPTIONS: "-javaagent:/evil.jar",
    JDK_JAVA_OPTIONS: "-Dliquibase.command.url=x",
    _JAVA_OPTIONS: "-Dx=y",
    JAVA_OPTS: "-Dliquibase.command.url=x",
    CLASSPATH: "/evil.jar",
    PGPASSWORD: "pg-secret",
  });
  assert.deepEqual(Object.keys(env).sort(), ["HOME", "JAVA_HOME", "JAVA_OPTS", "LANG", "LC_ALL", "PATH"]);
  assert.equal(env.PATH, "/opt/bin:/usr/bin");
  assert.ok(env.JAVA_OPTS?.startsWith(`${FAST_JAVA_OPTS} `));
  assert.match(env.JAVA_OPTS ?? "", /-Dfile\.encoding=UTF-8/);
  assert.equal(liquibaseEnv({}, "").PATH, "/usr/local/bin:/usr/bin:/bin");
  assert.doesNotMatch(liquibaseEnv({}, "").JAVA_OPTS ?? "", /TieredStopAtLevel/);
});

Deno.test("jdbcUrl() quotes the database and brackets IPv6 hosts; redact() hides the password", () => {
  assert.equal(
    jdbcUrl({ host: "127.0.0.1", port: 5432, database: "postgres" }),
    "jdbc:postgresql://127.0.0.1:5432/postgres",
  );
  assert.equal(
    jdbcUrl({ host: "::1", port: 1, database: "my db/x" }),
    "jdbc:postgresql://[::1]:1/my%20db%2Fx",
  );
  assert.equal(redact("auth failed for p@ss:w0rd!", "p@ss:w0rd!"), "auth failed for ***");
  assert.equal(redact("short e", "e"), "short e", "short passwords are not redacted");
});

Deno.test("liquibaseFailure() extracts Liquibase's own message", () => {
  const stderr = [
    "Starting Liquibase at 21:08:29 (version 4.28.0 #2272 built at 2024-05-16 19:00+0000)",
    "Running Changeset: cl.sql::3::x",
    "ERROR: Exception Details",
    "ERROR: Exception Primary Class:  PSQLException",
    'ERROR: Exception Primary Reason:  ERROR: relation "nosuch" does not exist',
    "",
    "Unexpected error running Liquibase: Migration failed for changeset cl.sql::3::x:",
    '     Reason: liquibase.exception.DatabaseException: ERROR: relation "nosuch" does not exist',
    "  Position: 13 [Failed SQL: (0) insert into nosuch values (1)]",
    "",
    "For more information, please use the --log-level flag",
  ].join("\n");
  assert.equal(
    liquibaseFailure({ code: 1, stdout: "", stderr }),
    [
      "Migration failed for changeset cl.sql::3::x:",
      '     Reason: liquibase.exception.DatabaseException: ERROR: relation "nosuch" does not exist',
      "  Position: 13 [Failed SQL: (0) insert into nosuch values (1)]",
    ].join("\n"),
  );
  assert.equal(liquibaseFailure({ code: 1, stdout: "", stderr: "ERROR: boom\nother" }), "ERROR: boom");
  assert.equal(liquibaseFailure({ code: 2, stdout: "", stderr: "" }), "Liquibase exited 2");
  assert.equal(
    liquibaseFailure({ code: 1, stdout: "Cannot find java in your path", stderr: "" }),
    "Liquibase exited 1: Cannot find java in your path",
  );
});

Deno.test("findLiquibase() reports a missing install or a broken liquibase.exec with the fix", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sqlrs-lb-tool-" });
  try {
    const env = { PATH: dir, HOME: join(dir, "home") };
    assert.equal(
      bundledLiquibasePath(env),
      join(dir, "home/.cache/sqlrs/tools/liquibase-4.28.1/node_modules/liquibase/dist/liquibase/liquibase"),
    );
    assert.equal(
      bundledLiquibasePath({ SQLRS_TOOLS_DIR: "/t", HOME: "/h" })?.startsWith("/t/liquibase-4.28.1/"),
      true,
    );
    await assert.rejects(findLiquibase(null, { env }), (error: unknown) => {
      assert.ok(error instanceof SqlrsError);
      assert.equal(error.code, "unavailable");
      assert.match(error.message, /Liquibase is not installed.*fix: run scripts\/install-liquibase\.sh/);
      return true;
    });
    await Deno.writeTextFile(join(dir, "not-executable"), "");
    for (const configured of [join(dir, "nope"), join(dir, "not-executable"), "no-such-liquibase"]) {
      await assert.rejects(findLiquibase(configured, { env }), (error: unknown) => {
        assert.ok(error instanceof SqlrsError);
        assert.equal(error.code, "unavailable");
        assert.match(error.message, /liquibase\.exec is ".*", which is not an executable file; fix:/);
        return true;
      });
    }
    // A configured launcher that fails is reported with its output.
    await Deno.writeTextFile(join(dir, "broken"), "#!/bin/sh\necho 'boom: no jar' >&2\nexit 3\n");
    await Deno.chmod(join(dir, "broken"), 0o755);
    // A stand-in Java, so that the failure is not blamed on a missing one.
    await Deno.mkdir(join(dir, "jdk/bin"), { recursive: true });
    await Deno.writeTextFile(join(dir, "jdk/bin/java"), "#!/bin/sh\nexit 0\n");
    await Deno.chmod(join(dir, "jdk/bin/java"), 0o755);
    await assert.rejects(
      findLiquibase(join(dir, "broken"), { env: { ...env, JAVA_HOME: join(dir, "jdk") } }),
      (error: unknown) => {
        assert.ok(error instanceof SqlrsError);
        assert.match(
          error.message,
          /does not work \(--version exited 3: boom: no jar\); fix: point liquibase\.exec/,
        );
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
