import assert from "node:assert/strict";
import { addUser, TeamUsers } from "./users.ts";

Deno.test("TeamUsers.authenticate() knows each token's user, also one added while it runs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/users.jsonl`;
    await assert.rejects(TeamUsers.open(file), /has no users/);
    const alice = await addUser(file, "alice", true);
    const users = await TeamUsers.open(file);
    assert.deepEqual(await users.authenticate(alice), { name: "alice", admin: true });
    assert.equal(await users.authenticate(`${alice}0`), undefined);
    assert.equal(await users.authenticate(""), undefined);
    const bob = await addUser(file, "bob", false);
    assert.deepEqual(await users.authenticate(bob), { name: "bob", admin: false });
    await assert.rejects(addUser(file, "bob", false), /already/);
    await assert.rejects(addUser(file, "1bad", false), /Invalid user name/);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.ok(!(await Deno.readTextFile(file)).includes(alice), "the file keeps only hashes");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
