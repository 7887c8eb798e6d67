/**
 * A store on a btrfs loop image (`sqlrs init local --store image`): the engine creates the image
 * the first time and mounts it at the store root whenever it is not mounted (after a reboot).
 *
 * @module
 */

import { dirname } from "node:path";
import { runOk } from "./exec.ts";
import { SqlrsError } from "../shared/errors.ts";

/** The loop image a store lives on. */
export interface StoreImage {
  path: string;
  sizeBytes: number;
}

function isMountPoint(path: string): boolean {
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n").some((line) =>
    line.split(" ")[4] === path
  );
}

/**
 * Makes sure `storeRoot` is the mounted btrfs filesystem of `image`, creating the image if missing.
 * @throws {SqlrsError} `unavailable` when not root, or when mkfs/mount fail
 */
export async function ensureStoreImage(
  image: StoreImage,
  storeRoot: string,
): Promise<"mounted" | "created" | "already"> {
  if (isMountPoint(storeRoot)) return "already";
  if (Deno.uid() !== 0) {
    throw new SqlrsError(
      "unavailable",
      `The sqlrs store ${storeRoot} lives on the btrfs image ${image.path}, which only root can mount: ` +
        `run sqlrs as root, or "sudo mount -o loop ${image.path} ${storeRoot}"`,
    );
  }
  let created = false;
  try {
    await Deno.stat(image.path);
  } catch {
    await Deno.mkdir(dirname(image.path), { recursive: true, mode: 0o755 });
    const file = await Deno.open(image.path, { create: true, write: true, mode: 0o600 });
    await file.truncate(image.sizeBytes);
    file.close();
    await runOk(["mkfs.btrfs", "-q", image.path]);
    created = true;
  }
  await Deno.mkdir(storeRoot, { recursive: true, mode: 0o711 });
  await runOk(["mount", "-o", "loop", image.path, storeRoot]);
  await Deno.chmod(storeRoot, 0o711);
  return created ? "created" : "mounted";
}
