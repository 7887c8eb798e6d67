import assert from "node:assert/strict";
import { CommandError, commandLine } from "./exec.ts";

Deno.test("a failed command with a huge argv names its head and count, not every argument", () => {
  const argv = [
    "cp",
    "-a",
    ...Array.from({ length: 500 }, (_, i) => `/store/states/x/base/16384/${i}`),
    "/dst",
  ];
  const error = new CommandError(argv, { code: 1, stdout: "", stderr: "cp: No space left on device" });
  assert.ok(error.message.length < 500, error.message);
  assert.match(error.message, /^Command failed \(exit 1\): cp -a \/store/);
  assert.match(error.message, /\(503 arguments\)/);
  assert.match(error.message, /No space left on device/);
  assert.equal(commandLine(["psql", "-c", "select 1"]), "psql -c select 1");
});
