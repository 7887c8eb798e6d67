/**
 * `sqlrs init local`: workspace config, a btrfs store on a loop image that the engine mounts (and
 * mounts again after an unmount), idempotency, nested workspaces, --dry-run, corrupt configs.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Sandbox } from "./_sandbox.ts";
import { storeAvailable } from "./_stores.ts";
import { need, testNeeding } from "./_needs.ts";

function mountedAt(path: string): string | undefined {
  const line = Deno.readTextFileSync("/proc/self/mountinfo").split("\n").find((l) =>
    l.split(" ")[4] === path
  );
  return line?.split(" - ")[1]?.split(" ")[0];
}

testNeeding(
  need(await storeAvailable("btrfs"), "root and mkfs.btrfs"),
  "init local --store image makes a btrfs store that prepare uses and the engine remounts",
  async () => {
    await using sandbox = await Sandbox.create();
    const workspace = join(sandbox.dir, "ws");
    await Deno.mkdir(workspace);
    const cwd = { cwd: workspace };
    const dry = await sandbox.cliOk([
      "init",
      "local",
      "--snapshot",
      "btrfs",
      "--store",
      "image",
      "--store-size",
      "2GB",
      "--dry-run",
    ], cwd);
    assert.match(dry.stdout, /would create a 2 GB btrfs image/);
    await assert.rejects(Deno.stat(join(workspace, ".sqlrs")), "dry run wrote nothing");

    await sandbox.cliOk(
      ["init", "local", "--snapshot", "btrfs", "--store", "image", "--store-size", "2GB"],
      cwd,
    );
    const config = await Deno.readTextFile(join(workspace, ".sqlrs", "config.yaml"));
    assert.match(config, /backend: btrfs/);
    assert.equal(mountedAt(sandbox.storeRoot), "btrfs");
    const again = await sandbox.cliOk([
      "init",
      "local",
      "--snapshot",
      "btrfs",
      "--store",
      "image",
      "--store-size",
      "2GB",
    ], cwd);
    assert.match(again.stdout, /already initialized/);
    assert.equal(await Deno.readTextFile(join(workspace, ".sqlrs", "config.yaml")), config, "idempotent");

    const prepared = await sandbox.cli([
      "prepare:psql",
      "--",
      "-c",
      "create table t(id int)",
      "run:psql",
      "--",
      "-A",
      "-t",
      "-c",
      "select 42",
    ], cwd);
    assert.equal(prepared.stdout, "42\n", prepared.stderr);
    const status = JSON.parse((await sandbox.cliOk(["--output", "json", "status"], cwd)).stdout);
    assert.equal(status.snapshot_backends.find((b: { selected: boolean }) => b.selected).name, "btrfs");
    assert.match(status.snapshot_reason, /chosen explicitly/);

    // After a reboot the image is no longer mounted: the next engine mounts it again.
    await sandbox.cliOk(["engine", "stop"], cwd);
    await new Deno.Command("umount", { args: [sandbox.storeRoot] }).output();
    assert.equal(mountedAt(sandbox.storeRoot), undefined);
    const states =
      JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--states"], cwd)).stdout).states;
    assert.equal(mountedAt(sandbox.storeRoot), "btrfs");
    assert.equal(states.length, 1, "the cached state is back");
  },
);

Deno.test("init refuses a nested workspace without --force and reports a corrupt config", async () => {
  await using sandbox = await Sandbox.create();
  const outer = join(sandbox.dir, "outer");
  const inner = join(outer, "inner");
  await Deno.mkdir(inner, { recursive: true });
  await sandbox.cliOk(["init", "--no-start"], { cwd: outer });
  const nested = await sandbox.cli(["init", "--no-start"], { cwd: inner });
  assert.equal(nested.code, 2);
  assert.match(nested.stderr, /--force/);
  await sandbox.cliOk(["init", "--force", "--no-start"], { cwd: inner });
  await Deno.stat(join(inner, ".sqlrs", "config.yaml"));
  const conflicting = await sandbox.cli(["init", "--snapshot", "copy", "--no-start"], { cwd: outer });
  assert.equal(conflicting.code, 2);
  assert.match(conflicting.stderr, /--update/);
  await sandbox.cliOk(["init", "--snapshot", "copy", "--update", "--no-start"], { cwd: outer });
  assert.match(await Deno.readTextFile(join(outer, ".sqlrs", "config.yaml")), /backend: copy/);
  await Deno.writeTextFile(join(outer, ".sqlrs", "config.yaml"), "snapshot: [unclosed");
  const corrupt = await sandbox.cli(["init", "--no-start"], { cwd: outer });
  assert.equal(corrupt.code, 3);
  assert.match(corrupt.stderr, /corrupt/);
});

Deno.test("an explicit snapshot backend that cannot work here is an error that says why", async () => {
  await using sandbox = await Sandbox.create();
  const workspace = join(sandbox.dir, "ws");
  await Deno.mkdir(workspace);
  // Refused before anything is written (a workspace naming it anyway: tests/truths_test.ts).
  const refused = await sandbox.cli(["init", "--snapshot", "btrfs", "--no-start"], { cwd: workspace });
  assert.equal(refused.code, 64);
  assert.match(refused.stderr, /Snapshot backend "btrfs" cannot work here: .* is on ext4/);
});
