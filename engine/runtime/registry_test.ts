import assert from "node:assert/strict";
import { RUNTIME_NAMES } from "../../shared/runtime_names.ts";
import { RUNTIMES } from "./registry.ts";

Deno.test("RUNTIMES registers each name of RUNTIME_NAMES once; auto tries docker before podman", () => {
  const names = RUNTIMES.map((registration) => registration.name);
  assert.deepEqual([...names].sort(), [...RUNTIME_NAMES].sort());
  assert.equal(new Set(names).size, names.length);
  assert.ok(names.indexOf("docker") < names.indexOf("podman"));
});
