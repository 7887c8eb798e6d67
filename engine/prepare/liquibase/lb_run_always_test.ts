import assert from "node:assert/strict";
import { runAlwaysChangesets } from "./lb_run_always.ts";

Deno.test("runAlwaysChangesets() finds runAlways changesets in formatted SQL, XML, YAML and JSON", () => {
  const sql = [
    "--liquibase formatted sql",
    "--changeset alice:1 runAlways:true",
    "select 1;",
    "--changeset alice:2 runOnChange:true",
    "select 2;",
  ].join("\n");
  assert.deepEqual([...runAlwaysChangesets(sql)], ["alice:1"]);
  const xml = `<databaseChangeLog>
  <changeSet id="grants" author="bob" runAlways="true"><sql>grant select on t to r</sql></changeSet>
  <changeSet author='bob' id='other'><sql>select 1</sql></changeSet>
</databaseChangeLog>`;
  assert.deepEqual([...runAlwaysChangesets(xml)], ["bob:grants"]);
  const yaml = [
    "databaseChangeLog:",
    "  - changeSet:",
    "      id: views",
    "      author: carol",
    "      runAlways: true",
    "      changes: []",
    "  - changeSet:",
    "      id: table",
    "      author: carol",
  ].join("\n");
  assert.deepEqual([...runAlwaysChangesets(yaml)], ["carol:views"]);
  const json = JSON.stringify({
    databaseChangeLog: [{ changeSet: { id: "j1", author: "dave", runAlways: true } }, {
      changeSet: { id: "j2", author: "dave" },
    }],
  });
  assert.deepEqual([...runAlwaysChangesets(json)], ["dave:j1"]);
});
