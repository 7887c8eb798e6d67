import assert from "node:assert/strict";
import { join } from "node:path";
import { ENFORCED_PSQL_ARGS, planPsql } from "./psql_args.ts";
import { isBadInput } from "../_bad_input.ts";

/** A temp dir holding the given files; removed after `body`. */
async function withDir(files: Record<string, string>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sqlrs-psql-args-" }));
  try {
    for (const [path, text] of Object.entries(files)) await Deno.writeTextFile(join(dir, path), text);
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const FILES = { "a.sql": "select 'a';\n", "b.sql": "select 'b';\n" };

Deno.test("planPsql() makes one step per -f, -f - and -c, in order, sharing the other options", async () => {
  await withDir(FILES, async (dir) => {
    const plan = await planPsql(["-q", "-f", join(dir, "a.sql"), "-c", "select 1", "-f", "-", "-1"], {
      workDir: dir,
      stdin: "select 'stdin';\n",
    });
    const shared = [...ENFORCED_PSQL_ARGS, "--quiet", "--single-transaction"];
    assert.deepEqual(plan.steps.map((step) => step.input), [
      { kind: "file", path: join(dir, "a.sql") },
      { kind: "command", sql: "select 1" },
      { kind: "stdin" },
    ]);
    assert.deepEqual(plan.steps.map((step) => step.args), [
      [...shared, "-f", join(dir, "a.sql")],
      [...shared, "-c", "select 1"],
      [...shared, "-f", "-"],
    ]);
    assert.deepEqual(plan.steps.map((step) => step.files), [[join(dir, "a.sql")], [], []]);
    assert.deepEqual(plan.normalizedOptions, ["--single-transaction"]);
    assert.deepEqual(ENFORCED_PSQL_ARGS, ["-X", "-v", "ON_ERROR_STOP=1"]);
  });
});

Deno.test("planPsql() accepts glued, clustered and long spellings", async () => {
  await withDir(FILES, async (dir) => {
    const spelled = await planPsql([
      "-qAt",
      "-fa.sql",
      "-vX=1",
      "--file=b.sql",
      "--set",
      "Y=2",
      "--command=select 3",
      "-qcselect 4",
    ], {
      workDir: dir,
    });
    assert.deepEqual(spelled.steps.map((step) => step.input), [
      { kind: "file", path: join(dir, "a.sql") },
      { kind: "file", path: join(dir, "b.sql") },
      { kind: "command", sql: "select 3" },
      { kind: "command", sql: "select 4" },
    ]);
    assert.deepEqual(spelled.steps[0]?.args, [
      ...ENFORCED_PSQL_ARGS,
      "--quiet",
      "--no-align",
      "--tuples-only",
      "--set=X=1",
      "--set=Y=2",
      "--quiet",
      "-f",
      join(dir, "a.sql"),
    ]);
    assert.deepEqual(spelled.normalizedOptions, ["--set=X=1", "--set=Y=2"]);
  });
});

Deno.test("planPsql() resolves relative -f paths against workDir", async () => {
  await withDir(FILES, async (dir) => {
    const plan = await planPsql(["-f", "a.sql", "--file", "./b.sql"], { workDir: dir });
    assert.deepEqual(plan.steps.map((step) => step.input), [
      { kind: "file", path: join(dir, "a.sql") },
      { kind: "file", path: join(dir, "b.sql") },
    ]);
  });
});

Deno.test("planPsql() gives stdin and a file of the same content the same contentHash", async () => {
  await withDir(FILES, async (dir) => {
    const plan = await planPsql(["-f", "a.sql", "-f", "-", "-c", "select 'a';\n"], {
      workDir: dir,
      stdin: FILES["a.sql"],
    });
    const [file, stdin, command] = plan.steps;
    assert.equal(file?.contentHash, stdin?.contentHash);
    assert.equal(file?.contentHash, command?.contentHash);
    const other = await planPsql(["-f", "b.sql"], { workDir: dir });
    assert.notEqual(other.steps[0]?.contentHash, file?.contentHash);
  });
});

Deno.test("planPsql() keys -v and result-changing flags but not cosmetic options", async () => {
  await withDir(FILES, async (dir) => {
    const plain = await planPsql(["-f", "a.sql"], { workDir: dir });
    assert.deepEqual(plain.normalizedOptions, []);
    const cosmetic = await planPsql([
      "-q",
      "-a",
      "-e",
      "-b",
      "-E",
      "-n",
      "-A",
      "-t",
      "-x",
      "-H",
      "--csv",
      "-X",
      "-w",
      "-P",
      "pager=off",
      "-F,",
      "-R",
      "\n",
      "-z",
      "-0",
      "-T",
      "border=1",
      "-f",
      "a.sql",
    ], {
      workDir: dir,
    });
    assert.deepEqual(cosmetic.normalizedOptions, []);
    assert.equal(cosmetic.steps[0]?.contentHash, plain.steps[0]?.contentHash);
    assert.ok(cosmetic.steps[0]?.args.includes("--pset=pager=off"));
    assert.ok(!cosmetic.steps[0]?.args.includes("-w"));
    assert.equal(cosmetic.steps[0]?.args.filter((arg) => arg === "-X").length, 1);
    const keyed = await planPsql([
      "-S",
      "-vA=1",
      "--variable=B",
      "-1",
      "--set=A=2",
      "--single-transaction",
      "-f",
      "a.sql",
    ], {
      workDir: dir,
    });
    assert.deepEqual(keyed.normalizedOptions, [
      "--single-line",
      "--single-transaction",
      "--set=A=1",
      "--set=B",
      "--set=A=2",
    ]);
  });
});

Deno.test("planPsql() accepts and drops a repeated ON_ERROR_STOP=1", async () => {
  await withDir(FILES, async (dir) => {
    for (
      const spelling of [["-v", "ON_ERROR_STOP=1"], ["--set=ON_ERROR_STOP=on"], ["-vON_ERROR_STOP=true"], [
        "--variable",
        "ON_ERROR_STOP=Y",
      ]]
    ) {
      const plan = await planPsql([...spelling, "-f", "a.sql"], { workDir: dir });
      assert.deepEqual(plan.normalizedOptions, []);
      assert.deepEqual(plan.steps[0]?.args, [...ENFORCED_PSQL_ARGS, "-f", join(dir, "a.sql")]);
    }
  });
});

Deno.test("planPsql() refuses options that contradict ON_ERROR_STOP=1", async () => {
  await withDir(FILES, async (dir) => {
    const cases: string[][] = [
      ["-v", "ON_ERROR_STOP=0"],
      ["--set=ON_ERROR_STOP=off"],
      ["-vON_ERROR_STOP=false"],
      ["--variable", "ON_ERROR_STOP"],
      ["-v", "ON_ERROR_STOP="],
      ["-v", "ON_ERROR_STOP=o"],
    ];
    for (const args of cases) {
      await assert.rejects(
        planPsql([...args, "-f", "a.sql"], { workDir: dir }),
        isBadInput(/^Cannot use ".*ON_ERROR_STOP.*": sqlrs enforces ON_ERROR_STOP=1/),
        args.join(" "),
      );
    }
  });
});

Deno.test("planPsql() refuses -h", async () => {
  await assert.rejects(
    planPsql(["-h", "localhost", "-f", "a.sql"], { workDir: "/tmp" }),
    isBadInput(/^Cannot use psql option "-h": sqlrs connects psql to the database it prepares$/),
  );
});

Deno.test("planPsql() refuses connection options in every spelling", async () => {
  const cases: Array<[string[], string]> = [
    [["--host=db"], "--host"],
    [["-hdb"], "-h"],
    [["-qh", "db"], "-h"],
    [["-p", "5432"], "-p"],
    [["--port", "5432"], "--port"],
    [["-U", "me"], "-U"],
    [["--username=me"], "--username"],
    [["-d", "db"], "-d"],
    [["--dbname=db"], "--dbname"],
    [["-W"], "-W"],
    [["--password"], "--password"],
  ];
  for (const [args, option] of cases) {
    await assert.rejects(
      planPsql([...args, "-c", "select 1"], { workDir: "/tmp" }),
      isBadInput(new RegExp(`^Cannot use psql option "${option}": sqlrs connects psql`)),
      args.join(" "),
    );
  }
});

Deno.test("planPsql() refuses positional arguments", async () => {
  for (const args of [["mydb"], ["postgres://u@h/db"], ["-c", "select 1", "--", "mydb"], ["-"]]) {
    await assert.rejects(
      planPsql([...args, "-c", "select 1"], { workDir: "/tmp" }),
      isBadInput(/^Cannot pass ".*" to psql: .*positional arguments/),
      args.join(" "),
    );
  }
});

Deno.test("planPsql() refuses options that exit, prompt or write files", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["-l"], /"-l": it lists databases/],
    [["--list"], /"--list"/],
    [["-s"], /"-s": single-step mode/],
    [["-V"], /"-V": it prints information and exits/],
    [["--version"], /"--version"/],
    [["-?"], /"-\?"/],
    [["--help"], /"--help"/],
    [["--help=commands"], /"--help"/],
    [["-o", "out.txt"], /"-o": psql output goes to the job log/],
    [["--output=out.txt"], /"--output"/],
    [["-L", "log.txt"], /"-L"/],
    [["--log-file", "log.txt"], /"--log-file"/],
  ];
  for (const [args, pattern] of cases) {
    await assert.rejects(
      planPsql([...args, "-c", "select 1"], { workDir: "/tmp" }),
      isBadInput(new RegExp(`^Cannot use psql option ${pattern.source}`)),
      args.join(" "),
    );
  }
});

Deno.test("planPsql() refuses unknown options", async () => {
  await assert.rejects(
    planPsql(["--foo", "-c", "select 1"], { workDir: "/tmp" }),
    isBadInput(/^Unsupported psql option "--foo"$/),
  );
  await assert.rejects(
    planPsql(["-qk", "-c", "select 1"], { workDir: "/tmp" }),
    isBadInput(/^Unsupported psql option "-k"$/),
  );
  await assert.rejects(
    planPsql(["--single-tr", "-c", "select 1"], { workDir: "/tmp" }),
    isBadInput(/^Unsupported psql option "--single-tr": spell it in full \("--single-transaction"\)$/),
  );
});

Deno.test("planPsql() refuses malformed option values", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["-c", "select 1", "-f"], /^Option "-f" needs a value$/],
    [["-c", "select 1", "--set"], /^Option "--set" needs a value$/],
    [["--quiet=yes", "-c", "select 1"], /^Option "--quiet" does not take a value$/],
    [["-v", "=1", "-c", "select 1"], /^Invalid psql variable name "" in "-v =1"$/],
    [["--set=a-b=1", "-c", "select 1"], /^Invalid psql variable name "a-b"/],
    [["--file=", "-c", "select 1"], /^Option "-f" needs a file name$/],
  ];
  for (const [args, pattern] of cases) {
    await assert.rejects(planPsql(args, { workDir: "/tmp" }), isBadInput(pattern), args.join(" "));
  }
});

Deno.test("planPsql() needs at least one step", async () => {
  for (const args of [[], ["-q", "-v", "A=1"]]) {
    await assert.rejects(
      planPsql(args, { workDir: "/tmp" }),
      isBadInput(/^Nothing to prepare: pass -f FILE, -f - or -c SQL$/),
    );
  }
});

Deno.test("planPsql() needs stdin content for -f -, and reads it once", async () => {
  await assert.rejects(planPsql(["-f", "-"], { workDir: "/tmp" }), isBadInput(/^-f - needs stdin content$/));
  await assert.rejects(
    planPsql(["-f", "-", "-f", "-"], { workDir: "/tmp", stdin: "select 1;" }),
    isBadInput(/^Only one -f - is allowed/),
  );
});

Deno.test("planPsql() names a missing -f file", async () => {
  await withDir({}, async (dir) => {
    await assert.rejects(
      planPsql(["-f", "missing.sql"], { workDir: dir }),
      isBadInput(
        new RegExp(`^Cannot read -f file "${RegExp.escape(join(dir, "missing.sql"))}": file not found$`),
      ),
    );
    await assert.rejects(planPsql(["-f", "."], { workDir: dir }), isBadInput(/not a regular file$/));
  });
});

Deno.test("planPsql() hashes each step's includes and data files", async () => {
  await withDir({
    "main.sql": "\\i inc.sql\n\\copy t from 'data.csv'\n",
    "inc.sql": "select 1;\n",
    "data.csv": "1\n",
  }, async (dir) => {
    const before = await planPsql(["-f", "main.sql", "-c", "\\i inc.sql"], { workDir: dir });
    assert.deepEqual(before.steps[0]?.files, ["main.sql", "inc.sql", "data.csv"].map((p) => join(dir, p)));
    assert.deepEqual(before.steps[1]?.files, [join(dir, "inc.sql")]);
    await Deno.writeTextFile(join(dir, "data.csv"), "2\n");
    const after = await planPsql(["-f", "main.sql", "-c", "\\i inc.sql"], { workDir: dir });
    assert.notEqual(after.steps[0]?.contentHash, before.steps[0]?.contentHash);
    assert.equal(after.steps[1]?.contentHash, before.steps[1]?.contentHash);
  });
});

Deno.test("planPsql() names the -c command when its include is missing", async () => {
  await withDir({}, async (dir) => {
    await assert.rejects(
      planPsql(["-c", "\\i nope.sql"], { workDir: dir }),
      isBadInput(/^Cannot include "nope\.sql" from the -c command: file not found$/),
    );
  });
});
