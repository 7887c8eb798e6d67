import assert from "node:assert/strict";
import {
  type FingerprintInput,
  hashRecords,
  KEY_SCHEMA_VERSION,
  stateFingerprint,
  toHex,
} from "./fingerprint.ts";

async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

const BASE: FingerprintInput = {
  parent: "postgres@sha256:abc",
  kind: "psql",
  contentHash: "c0ffee",
  options: [],
  toolIdentity: "postgres 17.2 / psql 17.2",
};

Deno.test("hashRecords() hashes length-prefixed records as lowercase hex", async () => {
  const expected = await sha256Hex("a=3:xyz\nbb=0:\n");
  assert.equal(await hashRecords([["a", "xyz"], ["bb", ""]]), expected);
  assert.match(expected, /^[0-9a-f]{64}$/);
});

Deno.test("hashRecords() counts the value's length in UTF-8 bytes", async () => {
  assert.equal(await hashRecords([["k", "é€"]]), await sha256Hex("k=5:é€\n"));
});

Deno.test("hashRecords() tells apart records that concatenate to the same text", async () => {
  const one = await hashRecords([["text", "ab"]]);
  const two = await hashRecords([["text", "a"], ["text", "b"]]);
  const forged = await hashRecords([["text", "a\ntext=1:b"]]);
  assert.notEqual(one, two);
  assert.notEqual(two, forged);
});

Deno.test("hashRecords() of no records is the hash of nothing", async () => {
  assert.equal(await hashRecords([]), await sha256Hex(""));
});

Deno.test("stateFingerprint() is hashRecords() over schema, parent, kind, content, options and tool", async () => {
  const expected = await hashRecords([
    ["schema", KEY_SCHEMA_VERSION],
    ["parent", BASE.parent],
    ["kind", "psql"],
    ["content", "c0ffee"],
    ["option", "--set=A=1"],
    ["option", "--single-transaction"],
    ["tool", BASE.toolIdentity],
  ]);
  const actual = await stateFingerprint({ ...BASE, options: ["--set=A=1", "--single-transaction"] });
  assert.equal(actual, expected);
});

Deno.test("stateFingerprint() changes with every input", async () => {
  const base = await stateFingerprint(BASE);
  assert.equal(await stateFingerprint({ ...BASE }), base);
  const variants: FingerprintInput[] = [
    { ...BASE, parent: "state-1" },
    { ...BASE, kind: "lb" },
    { ...BASE, contentHash: "c0ffef" },
    { ...BASE, options: ["--set=A=1"] },
    { ...BASE, toolIdentity: "postgres 17.3 / psql 17.3" },
  ];
  const hashes = await Promise.all(variants.map((variant) => stateFingerprint(variant)));
  assert.equal(new Set([base, ...hashes]).size, variants.length + 1);
});

Deno.test("stateFingerprint() keeps the order of options", async () => {
  const ab = await stateFingerprint({ ...BASE, options: ["--set=A=1", "--set=A=2"] });
  const ba = await stateFingerprint({ ...BASE, options: ["--set=A=2", "--set=A=1"] });
  assert.notEqual(ab, ba);
});
