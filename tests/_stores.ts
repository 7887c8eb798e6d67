/**
 * Stores on each snapshot backend for the test suites: a plain directory (copy or overlay on the
 * root filesystem), btrfs on a loop file, XFS with reflink on a loop file.
 *
 * @module
 */

import { join } from "node:path";
import { Sandbox } from "./_sandbox.ts";
import { type Need, need } from "./_needs.ts";

/** The store setups the suites run on. */
export type StoreKind = "copy" | "overlay" | "btrfs" | "xfs-reflink";

async function run(program: string, args: string[]): Promise<boolean> {
  const output = await new Deno.Command(program, { args, stdout: "null", stderr: "piped" }).output().catch(
    () => undefined,
  );
  return output !== undefined && output.success;
}

/** A fresh filesystem made by `mkfs` on a 2 GiB loop file `image`, mounted at `mountPoint`. */
export async function mountLoop(image: string, mountPoint: string, mkfs: string[]): Promise<void> {
  await Deno.mkdir(mountPoint, { recursive: true });
  const file = await Deno.open(image, { create: true, write: true });
  await file.truncate(2 * 1024 * 1024 * 1024);
  file.close();
  if (!(await run(mkfs[0] as string, [...mkfs.slice(1), image]))) throw new Error(`${mkfs.join(" ")} failed`);
  if (!(await run("mount", ["-o", "loop", image, mountPoint]))) throw new Error(`mount ${image} failed`);
  await Deno.chmod(mountPoint, 0o755);
}

/** Whether this machine can make a store of `kind` (root and the tools). */
export async function storeAvailable(kind: StoreKind): Promise<boolean> {
  if (kind === "copy") return true;
  if (Deno.uid() !== 0) return false;
  if (kind === "btrfs") return await run("mkfs.btrfs", ["--version"]);
  if (kind === "xfs-reflink") return await run("mkfs.xfs", ["-V"]);
  return true;
}

/** What a test on a store of `kind` needs (see `testNeeding`). */
export async function storeNeed(kind: StoreKind): Promise<Need> {
  return need(await storeAvailable(kind), `the ${kind} snapshot backend (root, mkfs tools)`);
}

/**
 * A sandbox whose store is on the given backend (engine config `snapshot.backend` set to match); the
 * test is registered with {@link storeNeed}.
 */
export async function sandboxOn(kind: StoreKind): Promise<Sandbox> {
  const sandbox = await Sandbox.create((dir) => ({ SQLRS_STATE_STORE: join(dir, "store") }));
  const store = sandbox.storeRoot;
  if (kind === "btrfs") await mountLoop(join(sandbox.dir, "btrfs.img"), store, ["mkfs.btrfs", "-q"]);
  else if (kind === "xfs-reflink") {
    await mountLoop(join(sandbox.dir, "xfs.img"), store, ["mkfs.xfs", "-q", "-m", "reflink=1"]);
  } else await Deno.mkdir(store, { recursive: true, mode: 0o755 });
  const backend = kind === "xfs-reflink" ? "copy" : kind;
  await Deno.writeTextFile(join(store, "config.json"), JSON.stringify({ snapshot: { backend } }));
  return sandbox;
}
