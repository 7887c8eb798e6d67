/**
 * sqlrs in a Deno test suite, with no other setup: each test gets its own PostgreSQL instance cloned
 * from a state built from `deno_test_example.sql`. The state is built once and cached, so every later
 * test (and every later run) only clones it, in about a second or less. `await using` deletes the
 * instance when the test ends.
 *
 * Run: deno test -A examples/deno_test_example_test.ts
 * (Outside this repository, import from "jsr:@sqlrs/sqlrs" or a path to its mod.ts instead.)
 *
 * @module
 */

import assert from "node:assert/strict";
import * as sqlrs from "@sqlrs/sqlrs";

/** Relative `-f` paths resolve against `cwd` (default: the current directory). */
const schema: sqlrs.PrepareOptions = { psql: ["-f", "deno_test_example.sql"], cwd: import.meta.dirname };

/** Runs one query and returns its rows as text (psql unaligned, tuples only). */
async function query(db: sqlrs.PreparedInstance, sql: string): Promise<string[]> {
  const result = await db.run({ psql: ["-A", "-t", "-c", sql] });
  assert.equal(result.exitCode, 0, result.stderr);
  return result.stdout.trimEnd().split("\n");
}

Deno.test("the seed data is there", async () => {
  await using db = await sqlrs.prepare(schema);
  assert.deepEqual(await query(db, "select name from customers order by id"), ["Ada", "Grace"]);
});

Deno.test("an order with a negative total is refused", async () => {
  await using db = await sqlrs.prepare(schema);
  const result = await db.run({ psql: ["-c", "insert into orders(customer_id, total) values (1, -5)"] });
  assert.equal(result.exitCode, 1);
  assert.match(result.stderr, /violates check constraint/);
});

Deno.test("each test gets its own copy of the same cached state", async () => {
  await using first = await sqlrs.prepare(schema);
  await using second = await sqlrs.prepare(schema);
  assert.equal(first.stateId, second.stateId);
  assert.notEqual(first.dsn, second.dsn); // give the DSN to any PostgreSQL driver
  await query(first, "delete from customers where name = 'Grace'");
  assert.deepEqual(await query(first, "select count(*) from customers"), ["1"]);
  assert.deepEqual(await query(second, "select count(*) from customers"), ["2"]);
});
