import assert from "node:assert/strict";
import { join } from "node:path";
import { expandPsqlContent } from "./psql_includes.ts";
import { copySource } from "./psql_copy.ts";
import { isBadInput } from "../_bad_input.ts";

/** A temp dir with the given files (paths relative to it); removed after `body`. */
async function withFiles(files: Record<string, string>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sqlrs-includes-" }));
  try {
    for (const [path, text] of Object.entries(files)) {
      const full = join(dir, path);
      await Deno.mkdir(join(full, ".."), { recursive: true });
      await Deno.writeTextFile(full, text);
    }
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Expands `path` (relative to `dir`) as a `-f` file, with `dir` as the working directory. */
async function expandFile(dir: string, path: string): Promise<{ contentHash: string; files: string[] }> {
  const origin = join(dir, path);
  return await expandPsqlContent({ text: await Deno.readTextFile(origin), origin, workDir: dir });
}

Deno.test("expandPsqlContent() gives \\i, \\include, \\ir and quoted spellings the same hash", async () => {
  await withFiles({ "lib/x.sql": "create table x (id int);\n" }, async (dir) => {
    const spellings = [
      "\\i lib/x.sql",
      "\\include lib/x.sql",
      "\\i 'lib/x.sql'",
      "\\i 'lib'/'x.sql'",
      "\\i lib/x.sql;",
      "\\i 'lib/x.sql';",
      "\\i   'lib/x.sql' extra-argument-ignored",
      "\\ir lib/x.sql",
      "\\include_relative 'lib/x.sql'",
      `\\i ${dir}/lib/x.sql`,
    ];
    const hashes = new Set<string>();
    for (const command of spellings) {
      await Deno.writeTextFile(join(dir, "main.sql"), `select 1;\n${command}\nselect 2;\n`);
      hashes.add((await expandFile(dir, "main.sql")).contentHash);
    }
    assert.equal(hashes.size, 1);
  });
});

Deno.test("expandPsqlContent() resolves \\ir against the including file and \\i against workDir", async () => {
  const files = {
    "sub/main.sql": "\\ir inc.sql\n\\i inc.sql\n",
    "sub/inc.sql": "select 'sub';\n",
    "inc.sql": "select 'top';\n",
  };
  await withFiles(files, async (dir) => {
    const { files: read } = await expandFile(dir, "sub/main.sql");
    assert.deepEqual(read, [join(dir, "sub/main.sql"), join(dir, "sub/inc.sql"), join(dir, "inc.sql")]);
  });
});

Deno.test("expandPsqlContent() resolves \\ir from stdin or -c against workDir", async () => {
  await withFiles({ "inc.sql": "select 1;\n" }, async (dir) => {
    const { files } = await expandPsqlContent({ text: "\\ir inc.sql\n", origin: null, workDir: dir });
    assert.deepEqual(files, [join(dir, "inc.sql")]);
  });
});

Deno.test("expandPsqlContent() hashes content, so editing an included file changes the hash", async () => {
  await withFiles({ "main.sql": "\\i inc.sql\n", "inc.sql": "select 1;\n" }, async (dir) => {
    const before = await expandFile(dir, "main.sql");
    assert.equal((await expandFile(dir, "main.sql")).contentHash, before.contentHash);
    await Deno.writeTextFile(join(dir, "inc.sql"), "select 2;\n");
    assert.notEqual((await expandFile(dir, "main.sql")).contentHash, before.contentHash);
  });
});

Deno.test("expandPsqlContent() does not depend on where included files live", async () => {
  await withFiles({ "a/inc.sql": "select 1;\n", "b/other.sql": "select 1;\n" }, async (dir) => {
    const a = await expandPsqlContent({ text: "\\i a/inc.sql\n", origin: null, workDir: dir });
    const b = await expandPsqlContent({ text: "\\i b/other.sql\n", origin: null, workDir: dir });
    assert.equal(a.contentHash, b.contentHash);
  });
});

Deno.test("expandPsqlContent() expands nested includes depth-first", async () => {
  const files = {
    "main.sql": "\\i one.sql\nselect 'main';\n",
    "one.sql": "\\ir nested/two.sql\n",
    "nested/two.sql": "\\ir three.sql\n",
    "nested/three.sql": "select 3;\n",
  };
  await withFiles(files, async (dir) => {
    const before = await expandFile(dir, "main.sql");
    assert.deepEqual(
      before.files,
      ["main.sql", "one.sql", "nested/two.sql", "nested/three.sql"].map((p) => join(dir, p)),
    );
    await Deno.writeTextFile(join(dir, "nested/three.sql"), "select 33;\n");
    assert.notEqual((await expandFile(dir, "main.sql")).contentHash, before.contentHash);
  });
});

Deno.test("expandPsqlContent() includes the same file twice when asked to", async () => {
  await withFiles({
    "main.sql": "\\i inc.sql\n\\i inc.sql\n",
    "once.sql": "\\i inc.sql\n",
    "inc.sql": "select 1;\n",
  }, async (dir) => {
    assert.notEqual(
      (await expandFile(dir, "main.sql")).contentHash,
      (await expandFile(dir, "once.sql")).contentHash,
    );
    assert.deepEqual((await expandFile(dir, "main.sql")).files, [
      join(dir, "main.sql"),
      join(dir, "inc.sql"),
    ]);
  });
});

Deno.test("expandPsqlContent() refuses an include cycle and names the chain", async () => {
  await withFiles({ "a.sql": "\\i b.sql\n", "b.sql": "select 1;\n\\i a.sql\n" }, async (dir) => {
    await assert.rejects(
      expandFile(dir, "a.sql"),
      isBadInput(/^Cannot include "a\.sql": include cycle a\.sql -> b\.sql -> a\.sql$/),
    );
  });
});

Deno.test("expandPsqlContent() refuses a file that includes itself", async () => {
  await withFiles({ "a.sql": "\\ir ./a.sql\n" }, async (dir) => {
    await assert.rejects(expandFile(dir, "a.sql"), isBadInput(/include cycle a\.sql -> a\.sql/));
  });
});

Deno.test("expandPsqlContent() names the missing include and its includer", async () => {
  await withFiles({ "a.sql": "\\i lib/b.sql\n" }, async (dir) => {
    const message = `Cannot include "lib/b.sql" from "${join(dir, "a.sql")}": file not found`;
    await assert.rejects(expandFile(dir, "a.sql"), isBadInput(new RegExp(`^${RegExp.escape(message)}$`)));
    await assert.rejects(
      expandPsqlContent({ text: "\\i lib/b.sql", origin: null, workDir: dir, label: "stdin" }),
      isBadInput(/^Cannot include "lib\/b\.sql" from stdin: file not found$/),
    );
  });
});

Deno.test("expandPsqlContent() keeps double quotes in a path, as psql does", async () => {
  await withFiles({ "x.sql": "select 1;\n" }, async (dir) => {
    await assert.rejects(
      expandPsqlContent({ text: '\\i "x.sql"\n', origin: null, workDir: dir }),
      isBadInput(/^Cannot include ""x\.sql"" from the SQL text: file not found$/),
    );
  });
});

Deno.test("expandPsqlContent() refuses include paths it cannot key", async () => {
  await withFiles({}, async (dir) => {
    const cases: Array<[string, RegExp]> = [
      ["\\i :dir/x.sql", /psql variable/],
      ["\\ir :'file'", /psql variable/],
      ["\\i `echo x.sql`", /shell command/],
      ["\\i ~/x.sql", /"~"/],
      ["\\i -", /stdin/],
      ["\\i", /Missing file name/],
      ["\\i 'x.sql", /Unterminated quoted string/],
      ["\\cd /tmp", /\\cd/],
    ];
    for (const [text, pattern] of cases) {
      await assert.rejects(
        expandPsqlContent({ text, origin: null, workDir: dir }),
        isBadInput(pattern),
        text,
      );
    }
  });
});

Deno.test("expandPsqlContent() gives stdin and a file of the same content the same hash", async () => {
  await withFiles({ "main.sql": "select 1;\n\\i inc.sql\n", "inc.sql": "select 2;\n" }, async (dir) => {
    const text = await Deno.readTextFile(join(dir, "main.sql"));
    const fromFile = await expandFile(dir, "main.sql");
    const fromStdin = await expandPsqlContent({ text, origin: null, workDir: dir });
    assert.equal(fromStdin.contentHash, fromFile.contentHash);
    assert.deepEqual(fromStdin.files, [join(dir, "inc.sql")]);
  });
});

Deno.test("expandPsqlContent() ignores backslash commands in strings, dollar quotes and comments", async () => {
  const text = [
    "select 'a \\i missing.sql' as s, E'it\\'s \\i missing.sql';",
    "create function f() returns text as $body$",
    "\\i missing.sql",
    "$body$ language sql;",
    "/* outer /* nested */",
    "\\i missing.sql",
    "*/",
    "-- \\i missing.sql",
    'select 1 as "\\i missing.sql";',
  ].join("\n");
  await withFiles({}, async (dir) => {
    const { files } = await expandPsqlContent({ text, origin: null, workDir: dir });
    assert.deepEqual(files, []);
  });
});

Deno.test("expandPsqlContent() finds backslash commands later on a line, as psql does", async () => {
  await withFiles({ "inc.sql": "select 2;\n" }, async (dir) => {
    const { files } = await expandPsqlContent({
      text: "select 1; \\i inc.sql\n",
      origin: null,
      workDir: dir,
    });
    assert.deepEqual(files, [join(dir, "inc.sql")]);
    const chained = await expandPsqlContent({
      text: "\\echo a \\\\ \\i inc.sql\n",
      origin: null,
      workDir: dir,
    });
    assert.deepEqual(chained.files, [join(dir, "inc.sql")]);
  });
});

Deno.test("expandPsqlContent() does not read inline COPY data as commands", async () => {
  const text = "COPY t (a, b) FROM stdin;\nO'Brien\t\\N\n\\i missing.sql\n\\.\n\\i inc.sql\n";
  await withFiles({ "inc.sql": "select 1;\n" }, async (dir) => {
    const { files } = await expandPsqlContent({ text, origin: null, workDir: dir });
    assert.deepEqual(files, [join(dir, "inc.sql")]);
  });
});

Deno.test("expandPsqlContent() keys the data file of \\copy from", async () => {
  const files = { "load.sql": "\\copy t from 'data/t.csv' with (format csv)\n", "data/t.csv": "1,a\n" };
  await withFiles(files, async (dir) => {
    const before = await expandFile(dir, "load.sql");
    assert.deepEqual(before.files, [join(dir, "load.sql"), join(dir, "data/t.csv")]);
    await Deno.writeTextFile(join(dir, "data/t.csv"), "1,b\n");
    assert.notEqual((await expandFile(dir, "load.sql")).contentHash, before.contentHash);
  });
});

Deno.test("expandPsqlContent() keys unquoted \\copy paths and \\lo_import files", async () => {
  await withFiles({ "t.csv": "1\n", "blob.bin": "xyz" }, async (dir) => {
    const text = "\\COPY public.t (a) FROM t.csv;\n\\lo_import blob.bin 'a comment'\n";
    const { files } = await expandPsqlContent({ text, origin: null, workDir: dir });
    assert.deepEqual(files, [join(dir, "t.csv"), join(dir, "blob.bin")]);
  });
});

Deno.test("expandPsqlContent() refuses a missing \\copy data file", async () => {
  await withFiles({}, async (dir) => {
    await assert.rejects(
      expandPsqlContent({
        text: "\\copy t from 'nope.csv'\n",
        origin: null,
        workDir: dir,
        label: "the -c command",
      }),
      isBadInput(/^Cannot read "nope\.csv" for \\copy from the -c command: file not found$/),
    );
  });
});

Deno.test("expandPsqlContent() reads nothing for \\copy from stdin, pstdin or to a file", async () => {
  await withFiles({}, async (dir) => {
    const text = [
      "\\copy t from stdin",
      "1",
      "\\.",
      "\\copy (select 1) to 'out.csv'",
      "\\copy t to stdout",
      "copy t to '/tmp/out.csv';",
      "copy (select 1 from t) to stdout;",
    ].join("\n");
    assert.deepEqual((await expandPsqlContent({ text, origin: null, workDir: dir })).files, []);
  });
});

Deno.test("a program's output is keyed by the files it names; one naming none is refused", async () => {
  await withFiles({ "x.csv": "1\n", "y.csv.gz": "gz" }, async (dir) => {
    const hash = async (text: string) =>
      (await expandPsqlContent({ text, origin: null, workDir: dir })).contentHash;
    const cat = "\\copy t from program 'cat x.csv'";
    const before = await hash(cat);
    assert.equal(before, await hash(cat));
    await Deno.writeTextFile(join(dir, "x.csv"), "2\n");
    assert.notEqual(await hash(cat), before, "editing the file the program reads changes the key");
    const server = `copy t from program 'gunzip -c ${join(dir, "y.csv.gz")}' with (format csv);`;
    const files = (await expandPsqlContent({ text: server, origin: null, workDir: dir })).files;
    assert.deepEqual(files, [join(dir, "y.csv.gz")]);
    await assert.rejects(
      hash("\\copy t from program 'curl -s https://example.org/x.csv'"),
      isBadInput(/names none/),
    );
    await assert.rejects(hash("COPY t FROM PROGRAM 'cat x.csv';"), isBadInput(/names none/));
  });
});

Deno.test("a server-side COPY FROM a file is keyed by the file; a relative path is refused", async () => {
  await withFiles({ "data.csv": "1\n" }, async (dir) => {
    const path = join(dir, "data.csv");
    const hash = async (text: string) =>
      (await expandPsqlContent({ text, origin: null, workDir: dir })).contentHash;
    for (const text of [`copy t from '${path}';`, `COPY t (a, "from") FROM '${path}' WITH (FORMAT csv)`]) {
      const before = await hash(text);
      await Deno.writeTextFile(path, `${before}\n`);
      assert.notEqual(await hash(text), before, text);
    }
    await assert.rejects(hash("copy t from 'data.csv';"), isBadInput(/data directory/));
    await assert.rejects(hash(`copy t from '${dir}/missing.csv';`), isBadInput(/file not found/));
    await assert.rejects(hash("copy t from $$/x$$;"), isBadInput(/cannot tell what it reads/));
    // A comment or a string elsewhere mentioning a path changes nothing.
    assert.deepEqual(
      (await expandPsqlContent({
        text: "select 'copy t from x'; -- copy t from '/y'\n",
        origin: null,
        workDir: dir,
      }))
        .files,
      [],
    );
  });
});

Deno.test("copySource() follows psql's \\copy syntax", () => {
  assert.deepEqual(copySource(` "My Table" ("a", b) from 'it''s.csv' csv`), {
    kind: "file",
    path: "it's.csv",
  });
  assert.deepEqual(copySource(" s.t from /abs/t.csv;"), { kind: "file", path: "/abs/t.csv" });
  assert.deepEqual(copySource(" (select ')' from x) to 'out.csv'"), { kind: "none" });
  assert.deepEqual(copySource(" t from STDIN"), { kind: "stdin" });
  assert.deepEqual(copySource(" t from program 'cat ''a b''.csv'"), {
    kind: "program",
    command: "cat 'a b'.csv",
  });
  assert.equal(copySource(" t").kind, "invalid");
});

Deno.test("expandPsqlContent() keys the bytes of files that are not valid UTF-8", async () => {
  await withFiles({}, async (dir) => {
    const hashes = new Set<string>();
    for (const byte of [0xe9, 0xe8]) {
      await Deno.writeFile(
        join(dir, "latin1.sql"),
        new Uint8Array([...new TextEncoder().encode("select 'caf"), byte, 0x27, 0x3b]),
      );
      hashes.add(
        (await expandPsqlContent({ text: "\\i latin1.sql\n", origin: null, workDir: dir })).contentHash,
      );
      hashes.add((await expandFile(dir, "latin1.sql")).contentHash);
    }
    assert.equal(hashes.size, 4);
  });
});

Deno.test("expandPsqlContent() hash does not depend on how messages name the input", async () => {
  await withFiles({}, async (dir) => {
    const a = await expandPsqlContent({ text: "select 1;", origin: null, workDir: dir, label: "stdin" });
    const b = await expandPsqlContent({ text: "select 1;", origin: null, workDir: dir });
    assert.equal(a.contentHash, b.contentHash);
  });
});

Deno.test("expandPsqlContent() reuses an expansion only while every file it read is unchanged", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "inc.sql"), "create table a(id int);\n");
    const input = { text: "\\i inc.sql\n", origin: null, workDir: dir };
    const first = await expandPsqlContent(input);
    const again = await expandPsqlContent(input);
    assert.equal(again.contentHash, first.contentHash);
    await Deno.writeTextFile(join(dir, "inc.sql"), "create table b(id int);\n");
    const edited = await expandPsqlContent(input);
    assert.notEqual(edited.contentHash, first.contentHash);
    await Deno.writeTextFile(join(dir, "inc.sql"), "create table a(id int);\n");
    assert.equal((await expandPsqlContent(input)).contentHash, first.contentHash);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
