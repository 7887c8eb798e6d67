import assert from "node:assert/strict";
import { join } from "node:path";
import { hashFiles, parsedChangelogs, sqlFilesByChangeset, treeDigest } from "./lb_inputs.ts";
import { KEPT_PLANS, readCachedPlan, writeCachedPlan } from "./lb_plan_cache.ts";

async function withDir(files: Record<string, string>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sqlrs-lb-inputs-" });
  try {
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(join(dir, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, path), text);
    }
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("parsedChangelogs() resolves the Matched file lines against the roots, once each", async () => {
  await withDir({ "db/master.xml": "x", "db/changes/a.sql": "a", "lib/b.sql": "b" }, (dir) => {
    const stderr = [
      "[2026-11-30 19:08:37] FINE [liquibase.parser] Matched file 'master.xml' to parser 'XMLChangeLogSAXParser'",
      "[2026-11-30 19:08:37] FINE [liquibase.parser] Matched file 'changes/a.sql' to parser 'ProFormattedSqlChangeLogParser'",
      "[2026-11-30 19:08:37] FINE [liquibase.parser] Matched file 'b.sql' to parser 'ProFormattedSqlChangeLogParser'",
      "[2026-11-30 19:08:37] FINE [liquibase.parser] Matched file 'changes/a.sql' to parser 'ProFormattedSqlChangeLogParser'",
      "[2026-11-30 19:08:37] FINE [liquibase.parser] Matched file 'in/a/jar.xml' to parser 'XMLChangeLogSAXParser'",
      "INFO [liquibase.changelog] Reading resource: changes/a.sql",
    ].join("\n");
    assert.deepEqual(parsedChangelogs(stderr, [join(dir, "db"), join(dir, "lib")]), [
      join(dir, "db/master.xml"),
      join(dir, "db/changes/a.sql"),
      join(dir, "lib/b.sql"),
    ]);
    return Promise.resolve();
  });
});

Deno.test("treeDigest() changes with any file's content, a new file or a new name; .git is skipped", async () => {
  await withDir({ "db/a.sql": "a", "db/data/seed.csv": "1\n", ".git/HEAD": "ref" }, async (dir) => {
    const first = await treeDigest([dir]);
    assert.match(first ?? "", /^[0-9a-f]{64}$/);
    assert.equal(await treeDigest([dir]), first, "stable");
    await Deno.writeTextFile(join(dir, ".git/HEAD"), "other");
    assert.equal(await treeDigest([dir]), first, ".git is not read");
    const skipped = await treeDigest([dir], [join(dir, "store")]);
    await Deno.mkdir(join(dir, "store"));
    await Deno.writeTextFile(join(dir, "store/state.db"), "x");
    assert.equal(await treeDigest([dir], [join(dir, "store")]), skipped, "a skipped directory is not read");
    await Deno.writeTextFile(join(dir, "db/data/seed.csv"), "2\n");
    const edited = await treeDigest([dir]);
    assert.notEqual(edited, first);
    await Deno.writeTextFile(join(dir, "db/new.sql"), "");
    assert.notEqual(await treeDigest([dir]), edited);
    // Regular files may be given as they are; a missing path is part of the digest.
    assert.notEqual(await treeDigest([join(dir, "db/a.sql")]), await treeDigest([join(dir, "nope")]));
  });
});

Deno.test("hashFiles() hashes regular files and marks unreadable ones", async () => {
  await withDir({ "a.sql": "a" }, async (dir) => {
    const before = await hashFiles([join(dir, "a.sql"), join(dir, "gone.sql")]);
    await Deno.writeTextFile(join(dir, "a.sql"), "b");
    assert.notEqual(await hashFiles([join(dir, "a.sql"), join(dir, "gone.sql")]), before);
  });
});

Deno.test("writeCachedPlan() round-trips a plan and keeps only the most recent ones", async () => {
  await withDir({}, async (dir) => {
    const cache = join(dir, "plans");
    assert.equal(await readCachedPlan(cache, "k0"), null);
    for (let i = 0; i <= KEPT_PLANS; i++) {
      await writeCachedPlan(cache, `k${i}`, {
        output: `out ${i}`,
        changelogs: [`/c${i}.xml`],
        sqlFiles: { [`c${i}.xml::1::a`]: [`/s${i}.sql`] },
      });
      const path = join(cache, `k${i}.json`);
      await Deno.utime(path, i, i);
    }
    assert.deepEqual(await readCachedPlan(cache, `k${KEPT_PLANS}`), {
      output: `out ${KEPT_PLANS}`,
      changelogs: [`/c${KEPT_PLANS}.xml`],
      sqlFiles: { [`c${KEPT_PLANS}.xml::1::a`]: [`/s${KEPT_PLANS}.sql`] },
    });
    await writeCachedPlan(cache, "last", { output: "", changelogs: [], sqlFiles: {} });
    assert.equal([...Deno.readDirSync(cache)].length, KEPT_PLANS);
    assert.equal(await readCachedPlan(cache, "k0"), null, "the oldest went");
    // A plan cached before sqlFiles were recorded reads as having none.
    await Deno.writeTextFile(join(cache, "old.json"), JSON.stringify({ output: "o", changelogs: [] }));
    assert.deepEqual(await readCachedPlan(cache, "old"), { output: "o", changelogs: [], sqlFiles: {} });
    await Deno.writeTextFile(join(cache, "bad.json"), "{");
    assert.equal(await readCachedPlan(cache, "bad"), null);
  });
});

Deno.test("sqlFilesByChangeset() gives each changeset the files its sqlFile lines name, beside its changelog or in a root", async () => {
  await withDir({ "db/master.xml": "x", "db/sql/two.sql": "t", "db/top.sql": "u" }, (dir) => {
    const stderr = [
      "[2026-12-07 19:16:37] FINE [liquibase.changelog] Running Changeset: master.xml::1::a",
      "[2026-12-07 19:16:37] FINE [liquibase.changelog] Running Changeset: master.xml::2::a",
      "[2026-12-07 19:16:37] INFO [liquibase.changelog] SQL in file sql/two.sql executed",
      "[2026-12-07 19:16:37] INFO [liquibase.changelog] SQL in file top.sql executed",
      "[2026-12-07 19:16:37] INFO [liquibase.changelog] SQL in file sql/two.sql executed",
      "[2026-12-07 19:16:37] FINE [liquibase.changelog] Running Changeset: master.xml::3::a",
      "[2026-12-07 19:16:37] INFO [liquibase.changelog] SQL in file in/a/jar.sql executed",
    ].join("\n");
    assert.deepEqual(sqlFilesByChangeset(stderr, [join(dir, "db")]), {
      "master.xml::2::a": [join(dir, "db/sql/two.sql"), join(dir, "db/top.sql")],
    });
    return Promise.resolve();
  });
});
