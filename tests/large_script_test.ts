/**
 * A large script (a 200 MB COPY-format load, real PostgreSQL): planning and preparing it keep the
 * engine's memory flat, since inputs are hashed and scanned as streams.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Sandbox } from "./_sandbox.ts";

const SCRIPT_BYTES = 200 * 1024 * 1024;
/** The engine's peak resident memory may not exceed this, whatever the script's size. */
const PEAK_LIMIT_KB = 300 * 1024;

/** Writes a COPY-format load of about `bytes` bytes; returns the number of rows. */
async function writeLoad(path: string, bytes: number): Promise<number> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const writer = file.writable.getWriter();
  const encoder = new TextEncoder();
  await writer.write(encoder.encode("create table t (id int, payload text);\ncopy t from stdin;\n"));
  const payload = "x".repeat(90);
  let rows = 0;
  for (let written = 0; written < bytes;) {
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++, rows++) lines.push(`${rows}\t${payload}\n`);
    const chunk = encoder.encode(lines.join(""));
    await writer.write(chunk);
    written += chunk.byteLength;
  }
  await writer.write(encoder.encode("\\.\n"));
  await writer.close();
  return rows;
}

/** The engine process's peak resident set (VmHWM, kB). */
async function enginePeakKb(sandbox: Sandbox): Promise<number> {
  const info = await sandbox.engineInfo();
  assert.ok(info !== undefined, "the engine runs");
  const status = await Deno.readTextFile(`/proc/${info.pid}/status`);
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
}

Deno.test("a 200 MB script: plan:psql and prepare:psql keep the engine under 300 MB", async () => {
  await using sandbox = await Sandbox.create();
  const rows = await writeLoad(join(sandbox.dir, "load.sql"), SCRIPT_BYTES);
  await sandbox.cliOk(["plan:psql", "--", "-f", "load.sql"]);
  const afterPlan = await enginePeakKb(sandbox);
  console.log(`engine peak after plan:psql: ${Math.round(afterPlan / 1024)} MB`);
  assert.ok(afterPlan <= PEAK_LIMIT_KB, `plan:psql: engine peak ${afterPlan} kB`);
  await sandbox.cliOk(["prepare:psql", "--name", "big", "--", "-f", "load.sql"]);
  const afterPrepare = await enginePeakKb(sandbox);
  console.log(`engine peak after prepare:psql: ${Math.round(afterPrepare / 1024)} MB`);
  assert.ok(afterPrepare <= PEAK_LIMIT_KB, `prepare:psql: engine peak ${afterPrepare} kB`);
  assert.equal((await sandbox.query("big", "select count(*) from t")).stdout.trim(), String(rows));
});
