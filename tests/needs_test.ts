/** How a test that needs a missing component is registered, outside CI and under CI=true. */

import assert from "node:assert/strict";
import { need, testNeedingDefinition } from "./_needs.ts";

const ran: string[] = [];
const definition: Deno.TestDefinition = {
  name: "a test",
  sanitizeOps: false,
  fn: () => void ran.push("ran"),
};

Deno.test("testNeedingDefinition() registers a test as it is when every component is there", () => {
  const result = testNeedingDefinition([need(true, "root"), need(true, "zsh")], definition, true);
  assert.equal(result.definition, definition);
  assert.equal(result.missing, undefined);
});

Deno.test("testNeedingDefinition() outside CI: ignored, and the first missing component is the reason", () => {
  const result = testNeedingDefinition(
    [need(true, "root"), need(false, "zsh"), need(false, "fish")],
    definition,
    false,
  );
  assert.deepEqual(result.missing, { available: false, what: "zsh" });
  assert.equal(result.definition.ignore, true);
  assert.equal(result.definition.name, "a test");
  assert.equal(result.definition.sanitizeOps, false);
});

Deno.test("testNeedingDefinition() under CI=true: not ignored, and fails saying what is missing", async () => {
  const result = testNeedingDefinition([need(false, "Liquibase and Java")], definition, true);
  assert.deepEqual(result.missing, { available: false, what: "Liquibase and Java" });
  assert.notEqual(result.definition.ignore, true);
  await assert.rejects(
    async () => await result.definition.fn({} as Deno.TestContext),
    /^Error: Liquibase and Java is missing, and CI=true forbids skipping$/,
  );
  assert.deepEqual(ran, [], "the test's own body never runs");
});
