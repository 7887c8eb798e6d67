/**
 * The faster JVM start of the engine's Liquibase runs (engine/prepare/liquibase/lb_fast_start.ts), with
 * real Liquibase and Java: the class-data-sharing archive is written once and used after, through a
 * Liquibase home without the JDBC drivers of other databases.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { findLiquibase } from "../engine/prepare/liquibase/lb_tool.ts";
import { runLiquibaseFast } from "../engine/prepare/liquibase/lb_fast_start.ts";
import { need, testNeeding } from "./_needs.ts";
import { run } from "../engine/exec.ts";

const tool = await findLiquibase(null).catch(() => null);
const LIQUIBASE = need(tool !== null, "Liquibase and Java");

const URL = { host: "127.0.0.1", port: 1, database: "postgres", user: "u", password: "" };

testNeeding(
  LIQUIBASE,
  "runLiquibaseFast() writes a class-data-sharing archive once, then starts from it and a home without other drivers",
  async () => {
    const cacheDir = await Deno.makeTempDir({ prefix: "sqlrs-lb-jvm-" });
    try {
      const first = await runLiquibaseFast(tool!, ["--version"], { cwd: cacheDir, url: URL }, cacheDir);
      assert.equal(first.code, 0, first.stderr);
      const [entry, ...others] = await Array.fromAsync(Deno.readDir(cacheDir));
      assert.deepEqual(others, [], "one entry per java and install");
      const dir = join(cacheDir, entry!.name);
      assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
        "home",
        "java-cds",
        "liquibase.jsa",
      ]);
      const jars = (await Array.fromAsync(Deno.readDir(join(dir, "home", "internal", "lib")))).map((e) =>
        e.name
      );
      assert.ok(jars.includes("liquibase-core.jar") && jars.includes("postgresql.jar"), jars.join());
      assert.ok(!jars.some((jar) => /^(snowflake-jdbc|ojdbc\d*|mssql-jdbc|h2)\.jar$/.test(jar)), jars.join());

      const second = await runLiquibaseFast(tool!, ["--version"], { cwd: cacheDir, url: URL }, cacheDir);
      assert.equal(second.code, 0, second.stderr);
      // The launcher used the pruned home, and the JVM's own messages stay off stdout.
      assert.match(second.stdout, new RegExp(`Liquibase Home: ${join(dir, "home")}`));
      assert.doesNotMatch(second.stdout, /snowflake|\[(warning|info)\]\[/);
      assert.equal(
        second.stdout.replace(/^Starting Liquibase at .*$/m, ""),
        first.stdout.replace(/^Starting Liquibase at .*$/m, ""),
      );
    } finally {
      await Deno.remove(cacheDir, { recursive: true });
    }
  },
);

testNeeding(
  LIQUIBASE,
  "runLiquibaseFast() runs a java without dynamic archives (before JDK 13) without them",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "sqlrs-lb-jvm-" });
    try {
      // A java that knows no -XX:ArchiveClassesAtExit and refuses to start with it, as JDK 11 does.
      const real = (await run(["bash", "-c", "command -v java"])).stdout.trim();
      await Deno.mkdir(join(dir, "jdk", "bin"), { recursive: true });
      await Deno.writeTextFile(
        join(dir, "jdk", "bin", "java"),
        `#!/bin/bash\ncase "$*" in\n  *PrintFlagsFinal*) exit 0 ;;\n  *ArchiveClasses*|*SharedArchiveFile*|*-Xlog*) ` +
          `echo "Unrecognized VM option" >&2; exit 1 ;;\nesac\nexec '${real}' "$@"\n`,
      );
      await Deno.chmod(join(dir, "jdk", "bin", "java"), 0o755);
      const env = { ...Deno.env.toObject(), JAVA_HOME: join(dir, "jdk") };
      const cacheDir = join(dir, "cache");
      for (let i = 0; i < 2; i++) {
        const result = await runLiquibaseFast(tool!, ["--version"], { cwd: dir, url: URL, env }, cacheDir);
        assert.equal(result.code, 0, result.stderr);
      }
      const [entry] = await Array.fromAsync(Deno.readDir(cacheDir));
      assert.equal(await Deno.readTextFile(join(cacheDir, entry!.name, "java-cds")), "no");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
