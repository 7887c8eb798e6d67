import assert from "node:assert/strict";
import { refuseEscapes, refuseRunEscapes } from "./remote_safety.ts";
import { escapeReason } from "../prepare/psql/psql_team.ts";

function reason(name: string, argument = ""): string | null {
  return escapeReason({ name, argument, where: "the -c command" });
}

Deno.test("escapeReason() refuses what reaches the engine's host and allows the rest", () => {
  for (
    const [name, argument] of [
      ["!", " id"],
      ["setenv", " PAGER cat"],
      ["o", " /tmp/out"],
      ["o", " |cat"],
      ["w", " file.sql"],
      ["g", " |cat"],
      ["gx", " out.txt"],
      ["s", " history"],
      ["lo_export", " 123 /tmp/x"],
      ["e", ""],
      ["copy", " t from program 'cat /x'"],
      ["copy", " t to program 'cat'"],
      ["copy", " t to '/tmp/t.csv'"],
      ["c", " postgres alice otherhost"],
      ["connect", " host=otherhost dbname=x"],
      ["c", " postgres://u@otherhost/db"],
      ["set", " x `id`"],
    ]
  ) {
    assert.notEqual(reason(name as string, argument), null, `\\${name}${argument}`);
  }
  for (
    const [name, argument] of [
      ["set", " x 1"],
      ["o", ""],
      ["o", " \\\\ select 1"],
      ["g", ""],
      ["g", " (format=csv)"],
      ["copy", " t from '/data/t.csv'"],
      ["copy", " t to stdout"],
      ["copy", " t to pstdout with csv"],
      ["c", " otherdb"],
      ["c", " otherdb alice"],
      ["i", " schema.sql"],
    ]
  ) {
    assert.equal(reason(name as string, argument), null, `\\${name}${argument}`);
  }
});

Deno.test("refuseEscapes() finds a command in an included file, and refuses Liquibase", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/inner.sql`, "select 1;\n\\! id\n");
    await Deno.writeTextFile(`${dir}/outer.sql`, "\\ir inner.sql\n");
    await assert.rejects(
      refuseEscapes({ prepare_kind: "psql", psql_args: ["-f", `${dir}/outer.sql`], work_dir: dir }, dir),
      /Cannot run "\\!" from "[^"]*inner\.sql" on a team engine/,
    );
    await refuseEscapes({ prepare_kind: "psql", psql_args: ["-c", "select 1"], work_dir: dir }, null);
    await assert.rejects(
      refuseEscapes({ prepare_kind: "lb", liquibase_args: ["update"], work_dir: dir }, dir),
      /prepare:lb is not served by a team engine/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("refuseRunEscapes() refuses psql -o, escapes on stdin and pgbench script files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const run = { instance_ref: "x", kind: "psql" as const, work_dir: dir };
    await assert.rejects(refuseRunEscapes({ ...run, args: ["-o", "/tmp/out", "-c", "select 1"] }), /-o/);
    await assert.rejects(refuseRunEscapes({ ...run, args: [], stdin: "\\! id\n" }), /"\\!" from stdin/);
    await refuseRunEscapes({ ...run, args: ["-A", "-c", "select 1"] });
    await assert.rejects(
      refuseRunEscapes({ ...run, kind: "pgbench", args: ["-f", "bench.sql@2", "-t", "1"] }),
      /pgbench script "[^"]*bench\.sql" on a team engine/,
    );
    await refuseRunEscapes({ ...run, kind: "pgbench", args: ["-b", "select-only", "-t", "1"] });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("refuseEscapes() reads only under the uploaded tree (links followed); refuseRunEscapes() reads no file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/tree`);
    await Deno.writeTextFile(`${dir}/secret.db`, "secret\n");
    await Deno.writeTextFile(`${dir}/tree/data.csv`, "1\n");
    await Deno.symlink(`${dir}/secret.db`, `${dir}/tree/link.csv`);
    const copy = (file: string) => `create table t (x text);\n\\copy t from '${file}'`;
    const inTree = { prepare_kind: "psql" as const, work_dir: `${dir}/tree` };
    await refuseEscapes({ ...inTree, psql_args: ["-c", copy("data.csv")] }, `${dir}/tree`);
    for (const file of ["link.csv", "../secret.db", `${dir}/secret.db`]) {
      await assert.rejects(
        refuseEscapes({ ...inTree, psql_args: ["-c", copy(file)] }, `${dir}/tree`),
        /Cannot read "[^"]*" on a team engine: it reads only the files a prepare uploaded/,
        file,
      );
    }
    await assert.rejects(
      refuseEscapes({ ...inTree, psql_args: ["-c", copy("data.csv")] }, null),
      /reads only the files a prepare uploaded/,
    );
    await assert.rejects(
      refuseRunEscapes({ instance_ref: "x", kind: "psql", args: ["-c", `\\i ${dir}/tree/data.csv`] }),
      /reads only the files a prepare uploaded/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
