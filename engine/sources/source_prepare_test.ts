import assert from "node:assert/strict";
import { requestInTree } from "./source_prepare.ts";

const tree = { root: "/store/sources/trees/t", files: {} };

Deno.test("requestInTree() moves work_dir, -f files and Liquibase paths into the tree, never out of it", async () => {
  const psql = await requestInTree({
    prepare_kind: "psql",
    psql_args: ["-X", "-f", "/w/a.sql", "-f", "-", "-f", "https://example.com/b.sql"],
    work_dir: "/w/../../..",
    source_id: "0".repeat(64),
  }, tree);
  assert.deepEqual(psql, {
    prepare_kind: "psql",
    psql_args: ["-X", "-f", "/store/sources/trees/t/w/a.sql", "-f", "-", "-f", "https://example.com/b.sql"],
    work_dir: "/store/sources/trees/t",
  });
  const lb = await requestInTree({
    prepare_kind: "lb",
    liquibase_args: ["update", "--changelog-file=/w/db/c.xml", "--search-path", "/w/db, lib,/../../x"],
    work_dir: "/w",
  }, tree);
  assert.deepEqual(lb, {
    prepare_kind: "lb",
    liquibase_args: [
      "update",
      "--changelog-file=/store/sources/trees/t/w/db/c.xml",
      "--search-path",
      "/store/sources/trees/t/w/db,lib,/store/sources/trees/t/x",
    ],
    work_dir: "/store/sources/trees/t/w",
  });
});
