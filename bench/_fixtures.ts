/**
 * What the benchmark sets up and must tear down: its root directory, loop-file filesystems (btrfs, XFS
 * with reflink), sqlrs installations (state dir, store, engine) and the helpers that stop every server,
 * unmount every mount and detach every loop device under the root, even after a failure.
 *
 * @module
 */

import { join } from "node:path";
import { run, runOk, succeeds } from "./_exec.ts";
import { alive } from "./_postgres.ts";
import { REPO } from "./_workloads.ts";
import { connectEngine } from "../client/discovery.ts";
import type { EngineClient } from "../client/engine_client.ts";
import type { SqlrsPaths } from "../shared/paths.ts";

/** The store setups the benchmark compares. */
export type BackendKind = "btrfs" | "xfs-reflink" | "overlay" | "copy";

/** Every backend, best first. */
export const BACKENDS: readonly BackendKind[] = ["btrfs", "xfs-reflink", "overlay", "copy"];

/** How each backend is labelled in figures and which engine `snapshot.backend` it uses. */
export const BACKEND_INFO: Record<BackendKind, { label: string; engine: "btrfs" | "overlay" | "copy" }> = {
  "btrfs": { label: "btrfs (loop file)", engine: "btrfs" },
  "xfs-reflink": { label: "copy, reflink (XFS loop file)", engine: "copy" },
  "overlay": { label: "overlay (on ext4)", engine: "overlay" },
  "copy": { label: "copy (ext4)", engine: "copy" },
};

/** The CLI entry point. */
export const CLI: string = join(REPO, "cli", "main.ts");

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function kernelHas(fs: string): Promise<boolean> {
  const text = await Deno.readTextFile("/proc/filesystems").catch(() => "");
  return new RegExp(`\\t${fs}$`, "m").test(text);
}

/** Whether a backend can be benchmarked here, and if not, why. */
export async function backendAvailable(kind: BackendKind): Promise<{ available: boolean; reason: string }> {
  if (kind === "copy") return { available: true, reason: "works anywhere" };
  if (Deno.uid() !== 0) return { available: false, reason: "needs root (mount)" };
  if (kind === "btrfs") {
    if (!(await kernelHas("btrfs"))) return { available: false, reason: "the kernel has no btrfs" };
    if (!(await succeeds(["mkfs.btrfs", "--version"]))) {
      return { available: false, reason: "btrfs-progs missing" };
    }
  }
  if (kind === "xfs-reflink") {
    if (!(await kernelHas("xfs"))) return { available: false, reason: "the kernel has no xfs" };
    if (!(await succeeds(["mkfs.xfs", "-V"]))) return { available: false, reason: "xfsprogs missing" };
  }
  if (kind === "overlay" && !(await kernelHas("overlay"))) {
    return { available: false, reason: "the kernel has no overlayfs" };
  }
  return { available: true, reason: "available" };
}

// ---------------------------------------------------------------------------------------------
// Cleanup of everything under a root

/** Postmasters whose data directory is under `root`, with their socket directory (`-k`). */
export async function postmastersUnder(
  root: string,
): Promise<Array<{ pid: number; socketDir: string | undefined }>> {
  const found: Array<{ pid: number; socketDir: string | undefined }> = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const argv = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`)).split("\0");
      const d = argv.indexOf("-D");
      const k = argv.indexOf("-k");
      if (/postgres$/.test(argv[0] ?? "") && d !== -1 && (argv[d + 1] ?? "").startsWith(root)) {
        found.push({ pid: Number(entry.name), socketDir: k === -1 ? undefined : argv[k + 1] });
      }
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/**
 * Stops (fast shutdown, then SIGKILL) every postmaster whose data directory is under `root`, and
 * removes the short socket directories sqlrs made for them under /tmp (the engine would have).
 */
export async function stopServersUnder(root: string): Promise<void> {
  const servers = await postmastersUnder(root);
  for (const { pid } of servers) {
    try {
      Deno.kill(pid, "SIGINT");
    } catch {
      // gone
    }
  }
  const deadline = Date.now() + 20_000;
  for (const { pid, socketDir } of servers) {
    while (await alive(pid)) {
      if (Date.now() > deadline) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
        break;
      }
      await sleep(10);
    }
    if (socketDir !== undefined && /^\/tmp\/sqlrs-sock-\d+\/[0-9a-f]+$/.test(socketDir)) {
      await Deno.remove(socketDir, { recursive: true }).catch(() => {});
    }
  }
}

/** Mount points at or under `root`, deepest first. */
async function mountsUnder(root: string): Promise<string[]> {
  const text = await Deno.readTextFile("/proc/self/mountinfo");
  return text.split("\n")
    .map((line) =>
      (line.split(" ")[4] ?? "").replace(
        /\\([0-7]{3})/g,
        (_, o: string) => String.fromCharCode(parseInt(o, 8)),
      )
    )
    .filter((point) => point === root || point.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or under `root`, retrying while busy, lazily as a last resort. */
export async function unmountUnder(root: string): Promise<void> {
  for (const point of await mountsUnder(root)) {
    let done = false;
    for (let attempt = 0; attempt < 20 && !done; attempt++) {
      const result = await run(["umount", point]);
      done = result.code === 0 || /not mounted|no mount point/i.test(result.stderr);
      if (!done) await sleep(50);
    }
    if (!done) await run(["umount", "-l", point]);
  }
}

/** Detaches every loop device backed by a file under `root`. */
export async function detachLoopsUnder(root: string): Promise<void> {
  const result = await run(["losetup", "-n", "-O", "NAME,BACK-FILE", "-l"]).catch(() => undefined);
  if (result === undefined || result.code !== 0) return;
  for (const line of result.stdout.split("\n")) {
    const [device, file] = line.trim().split(/\s+/, 2);
    if (device !== undefined && file !== undefined && file.startsWith(`${root}/`)) {
      await run(["losetup", "-d", device]);
    }
  }
}

/** The inode number of every btrfs subvolume root. */
const SUBVOLUME_ROOT_INODE = 256;

/**
 * Deletes every btrfs subvolume under `root` (deepest first), so that `rm -rf` can remove the rest:
 * a read-only snapshot cannot be emptied, and `rm --one-file-system` skips subvolumes. Data
 * directories are not entered (no subvolume nests inside one).
 */
export async function deleteSubvolumesUnder(root: string): Promise<void> {
  const type = await run(["stat", "-f", "-c", "%T", root]).catch(() => undefined);
  if (type?.stdout.trim() !== "btrfs") return;
  const found: string[] = [];
  const queue: Array<{ dir: string; depth: number }> = [{ dir: root, depth: 0 }];
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(item.dir));
    } catch {
      continue;
    }
    if (entries.some((e) => e.name === "PG_VERSION")) continue;
    for (const entry of entries) {
      if (!entry.isDirectory) continue;
      const path = join(item.dir, entry.name);
      const info = await Deno.lstat(path).catch(() => undefined);
      if (info?.ino === SUBVOLUME_ROOT_INODE) found.push(path);
      if (item.depth < 8) queue.push({ dir: path, depth: item.depth + 1 });
    }
  }
  for (const path of found.sort((a, b) => b.length - a.length)) {
    await run(["btrfs", "subvolume", "delete", path]);
  }
}

/** Removes a tree that may hold mounts, servers and btrfs subvolumes. */
export async function removeEverythingUnder(root: string): Promise<void> {
  await stopServersUnder(root);
  await unmountUnder(root);
  await deleteSubvolumesUnder(root);
  await run(["rm", "-rf", "--one-file-system", "--", root]);
}

// ---------------------------------------------------------------------------------------------
// Filesystems

/** A directory on the filesystem a backend needs: a loop-mounted image for btrfs and XFS. */
export async function backendFilesystem(root: string, kind: BackendKind, sizeGiB: number): Promise<string> {
  const dir = join(root, `fs-${kind}`);
  await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  if (kind === "overlay" || kind === "copy") return dir;
  const image = join(root, `${kind}.img`);
  const file = await Deno.open(image, { create: true, write: true });
  await file.truncate(sizeGiB * 1024 ** 3);
  file.close();
  if (kind === "btrfs") await runOk(["mkfs.btrfs", "-q", image]);
  else await runOk(["mkfs.xfs", "-q", "-m", "reflink=1", image]);
  await runOk(["mount", "-o", "loop", image, dir]);
  await Deno.chmod(dir, 0o755);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// sqlrs installations

/** What a CLI run printed and how long it took. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** One sqlrs installation: its own state dir, store and engine. */
export class Installation {
  readonly dir: string;
  readonly storeRoot: string;
  readonly env: Record<string, string>;
  #client: EngineClient | undefined;
  #logOffset = 0;

  private constructor(dir: string, storeRoot: string) {
    this.dir = dir;
    this.storeRoot = storeRoot;
    this.env = {
      XDG_STATE_HOME: join(dir, "state"),
      XDG_CONFIG_HOME: join(dir, "config"),
      SQLRS_STATE_STORE: storeRoot,
      SQLRS_ENGINE_ADDR: "",
      TAIDON_ENGINE_ADDR: "",
      SQLRS_SNAPSHOT_BACKEND: "",
      SQLRS_STORE_IMAGE: "",
      DENO_NO_UPDATE_CHECK: "1",
    };
  }

  /**
   * Creates an installation in `dir` with its store at `storeRoot` (default `dir/store`); with
   * `backend`, the store's engine config selects that snapshot backend.
   */
  static async create(
    dir: string,
    options: { storeRoot?: string; backend?: "btrfs" | "overlay" | "copy" } = {},
  ): Promise<Installation> {
    // PostgreSQL runs as an unprivileged user and must reach the store.
    await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
    await Deno.chmod(dir, 0o755);
    const store = options.storeRoot ?? join(dir, "store");
    await Deno.mkdir(store, { recursive: true, mode: 0o755 });
    if (options.backend !== undefined) {
      await Deno.writeTextFile(
        join(store, "config.json"),
        JSON.stringify({ snapshot: { backend: options.backend } }),
      );
    }
    return new Installation(dir, store);
  }

  get paths(): SqlrsPaths {
    const stateDir = join(this.dir, "state", "sqlrs");
    return {
      stateDir,
      storeRoot: this.storeRoot,
      engineFile: join(stateDir, "engine.json"),
      runDir: join(stateDir, "run"),
      logDir: join(stateDir, "logs"),
      configDir: join(this.dir, "config", "sqlrs"),
    };
  }

  get engineLog(): string {
    return join(this.paths.logDir, "engine.log");
  }

  /** The engine's client, spawning the engine exactly as the CLI does (with a long idle timeout). */
  async client(): Promise<EngineClient> {
    this.#client ??= await connectEngine({
      engineCommand: [Deno.execPath(), "run", "-A", "--quiet", CLI, "engine", "serve"],
      idleTimeout: "3600s",
      engineEnv: this.env,
      paths: this.paths,
      timeoutMs: 600_000,
    });
    return this.#client;
  }

  /** Runs `sqlrs <args>` to its end (cwd: this installation's dir) and times it. */
  async cli(args: readonly string[]): Promise<CliRun> {
    const started = performance.now();
    const result = await run([Deno.execPath(), "run", "-A", "--quiet", CLI, ...args], {
      cwd: this.dir,
      env: this.env,
    });
    return { ...result, ms: performance.now() - started };
  }

  /** Engine log lines written since the last call. */
  async newLogLines(): Promise<string[]> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(this.engineLog);
    } catch {
      return [];
    }
    const text = new TextDecoder().decode(bytes.subarray(this.#logOffset));
    this.#logOffset = bytes.length;
    return text.split("\n").filter((line) => line !== "");
  }

  async #enginePid(): Promise<number | undefined> {
    try {
      return Number(JSON.parse(await Deno.readTextFile(this.paths.engineFile)).pid) || undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Deletes every instance, stops the engine, then stops whatever server, mount or file is left in
   * the installation and its store.
   */
  async dispose(): Promise<void> {
    const pid = await this.#enginePid();
    if (pid !== undefined && (await alive(pid))) {
      try {
        const client = this.#client ?? await connectEngine({
          engineCommand: ["false"],
          autostart: false,
          paths: this.paths,
        });
        this.#client = client;
        for (const instance of await client.listInstances()) {
          await client.delete("instances", instance.instance_id, { force: true }).catch(() => {});
        }
        await client.shutdown().catch(() => {});
      } catch {
        // the engine is not answering: it is killed below
      }
      const deadline = Date.now() + 15_000;
      while (await alive(pid)) {
        if (Date.now() > deadline) {
          Deno.kill(pid, "SIGKILL");
          break;
        }
        await sleep(20);
      }
    }
    this.#client?.[Symbol.dispose]();
    this.#client = undefined;
    if (!this.storeRoot.startsWith(`${this.dir}/`)) await removeEverythingUnder(this.storeRoot);
    await removeEverythingUnder(this.dir);
  }
}

/** Finds the directory of a state in a store (`engines/<engine>/<version>/states/<id>`). */
export async function stateDirOf(storeRoot: string, stateId: string): Promise<string> {
  const engines = join(storeRoot, "engines");
  for await (const engine of Deno.readDir(engines)) {
    for await (const version of Deno.readDir(join(engines, engine.name))) {
      const candidate = join(engines, engine.name, version.name, "states", stateId);
      try {
        if ((await Deno.stat(candidate)).isDirectory) return candidate;
      } catch {
        // not this one
      }
    }
  }
  throw new Error(`State ${stateId} not found under ${storeRoot}`);
}
