/**
 * `init [local]`: marks a workspace (`.sqlrs/config.yaml`) and chooses its store and snapshot
 * backend. With `--store image` the store lives on a btrfs loop image that the engine creates and
 * mounts (root only). Idempotent; refuses a nested workspace without `--force`; `--dry-run` changes
 * nothing. Exit codes as the reference: 2 nested or conflicting, 3 corrupt config, 4 filesystem
 * error, 64 unsupported here.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { dirname, join, resolve } from "node:path";
import { connectEngine } from "../../client/discovery.ts";
import { EngineUnreachableError } from "../../client/engine_client.ts";
import { probeSnapshotBackend } from "../../client/snapshot_probe.ts";
import { sqlrsPaths } from "../../shared/paths.ts";
import type { CliContext } from "../context.ts";
import { engineCommand } from "../context.ts";
import { findWorkspaceConfig, readYaml } from "../../client/config.ts";
import { EXIT, ExitError } from "../exit_codes.ts";
import { initRemote, type InitRemoteFlags } from "./init_remote.ts";
import { err, out, printJson } from "../output.ts";
import { loadYaml } from "../../shared/deps.ts";
import {
  SNAPSHOT_SETTINGS,
  type SnapshotSetting,
  snapshotSettingsList,
} from "../../shared/snapshot_backends.ts";

const BACKENDS = SNAPSHOT_SETTINGS;
type Backend = SnapshotSetting;

/** The settings `init` writes. */
interface WorkspaceSettings {
  snapshot: { backend: Backend };
  engine?: { storePath: string };
  store?: { type: "image"; image: string; sizeGB: number };
}

interface InitFlags {
  workspace?: string | undefined;
  force?: boolean | undefined;
  dryRun?: boolean | undefined;
  update?: boolean | undefined;
  snapshot?: string | undefined;
  store?: string[] | undefined;
  storeSize?: string | undefined;
  start?: boolean | undefined;
}

function settingsFrom(flags: InitFlags): WorkspaceSettings {
  const backend = (flags.snapshot ?? "auto") as Backend;
  if (!BACKENDS.includes(backend)) {
    throw new ExitError(
      EXIT.unsupported,
      `Invalid --snapshot "${flags.snapshot}": use ${BACKENDS.join(", ")}`,
    );
  }
  const [type = "dir", path] = flags.store ?? [];
  if (type !== "dir" && type !== "image") {
    throw new ExitError(EXIT.unsupported, `Invalid --store "${type}": use dir [PATH] or image [PATH]`);
  }
  const sizeMatch = /^(\d+)GB$/.exec(flags.storeSize ?? "100GB");
  if (sizeMatch === null) {
    throw new ExitError(
      EXIT.unsupported,
      `Invalid --store-size "${flags.storeSize}": use a size such as 100GB`,
    );
  }
  const paths = sqlrsPaths();
  if (type === "dir") {
    return path === undefined
      ? { snapshot: { backend } }
      : { snapshot: { backend }, engine: { storePath: resolve(path) } };
  }
  if (backend === "overlay" || backend === "copy") {
    throw new ExitError(
      EXIT.unsupported,
      `--store image makes a btrfs store; it cannot be used with --snapshot ${backend}`,
    );
  }
  if (Deno.uid() !== 0) {
    throw new ExitError(
      EXIT.unsupported,
      "--store image creates and mounts a btrfs loop image, which needs root: run sqlrs init as root",
    );
  }
  return {
    snapshot: { backend: "btrfs" },
    engine: { storePath: paths.storeRoot },
    store: {
      type: "image",
      image: resolve(path ?? join(paths.stateDir, "btrfs.img")),
      sizeGB: Number(sizeMatch[1]),
    },
  };
}

async function readSettings(file: string): Promise<WorkspaceSettings | undefined> {
  try {
    const value = await readYaml(file) as WorkspaceSettings | undefined;
    if (value === undefined) return undefined;
    if (!BACKENDS.includes(value.snapshot?.backend)) throw new Error("no snapshot.backend");
    return value;
  } catch (error) {
    throw new ExitError(
      EXIT.internal,
      `The workspace config ${file} is corrupt (${(error as Error).message}); fix it or rerun with --update`,
    );
  }
}

function same(a: WorkspaceSettings, b: WorkspaceSettings): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function stopRunningEngine(): Promise<boolean> {
  try {
    using client = await connectEngine({ engineCommand: engineCommand(), autostart: false });
    await client.shutdown();
    return true;
  } catch (error) {
    if (error instanceof EngineUnreachableError) return false;
    throw error;
  }
}

/**
 * Refuses a backend that cannot work on the workspace's store, with the reason `status` would give:
 * written anyway, it would leave an engine that can build nothing. An image store is made btrfs by
 * the engine, so there is nothing to check.
 */
async function refuseUnworkableBackend(wanted: WorkspaceSettings): Promise<void> {
  const backend = wanted.snapshot.backend;
  if (wanted.store !== undefined || backend === "auto" || backend === "copy") return;
  const env: Record<string, string> = wanted.engine === undefined
    ? {}
    : { SQLRS_STATE_STORE: wanted.engine.storePath };
  const probe = await probeSnapshotBackend(engineCommand(), backend, env);
  if (!probe.available) {
    throw new ExitError(EXIT.unsupported, `Snapshot backend "${backend}" cannot work here: ${probe.detail}`);
  }
}

/** `init`. */
export function initCommand(context: () => CliContext) {
  return new Command("init")
    .description(
      "Set up a sqlrs workspace: its store and snapshot backend (.sqlrs/config.yaml); " +
        "or with remote, a profile of a team engine",
    )
    .argument("[mode]", "local, or remote (a profile of a team engine)", "local")
    .argument("[name]", "the profile's name (init remote)")
    .option("--url <url>", "init remote: the team engine, https://HOST:PORT")
    .option("--token-file <file>", "init remote: the file holding your token")
    .option("--ca-cert <file>", "init remote: a CA certificate (PEM) to trust for it")
    .option("--workspace <path>", "workspace root (default: the current directory)")
    .option("--snapshot <backend>", snapshotSettingsList())
    .option("--store <type-and-path...>", "dir [PATH] or image [PATH] (a btrfs loop image, root only)")
    .option("--store-size <size>", "size of a new store image, e.g. 100GB")
    .option("--force", "allow a workspace inside another one")
    .option("--update", "change the settings of an existing workspace")
    .option("--dry-run", "print what would be done, change nothing")
    .option("--no-start", "do not start the engine afterwards")
    .action(async (mode, name, flags: InitFlags & InitRemoteFlags) => {
      if (mode === "remote") return await initRemote(name, flags, context().json);
      if (name !== undefined) {
        throw new ExitError(EXIT.usage, `Unexpected argument "${name}" for init ${mode}`);
      }
      if (mode !== "local") {
        throw new ExitError(
          EXIT.unsupported,
          `sqlrs init ${mode} is not supported here: use local or remote`,
        );
      }
      const workspace = resolve(flags.workspace ?? Deno.cwd());
      const file = join(workspace, ".sqlrs", "config.yaml");
      const wanted = settingsFrom(flags);
      const existing = await readSettings(file);
      const actions: string[] = [];
      if (existing !== undefined && !flags.update) {
        if (flags.snapshot === undefined && flags.store === undefined) {
          out(`workspace ${workspace} is already initialized (${file})`);
          return;
        }
        if (!same(existing, wanted)) {
          throw new ExitError(
            EXIT.usage,
            `Workspace ${workspace} is already initialized with other settings; rerun with --update to change them`,
          );
        }
        out(`workspace ${workspace} is already initialized with these settings`);
        return;
      }
      if (existing === undefined) {
        const parent = await findWorkspaceConfig(dirname(workspace));
        if (parent !== undefined && !flags.force) {
          throw new ExitError(
            EXIT.usage,
            `${workspace} is inside the workspace of ${parent}; pass --force to create a nested workspace`,
          );
        }
      }
      await refuseUnworkableBackend(wanted);
      actions.push(`write ${file} (snapshot backend ${wanted.snapshot.backend})`);
      if (wanted.store !== undefined) {
        actions.push(
          `create a ${wanted.store.sizeGB} GB btrfs image at ${wanted.store.image} (if missing) and mount it at ${wanted.engine?.storePath} when the engine starts`,
        );
      }
      if (flags.dryRun) {
        if (context().json) printJson({ dry_run: true, actions });
        else out(actions.map((action) => `would ${action}`).join("\n"));
        return;
      }
      try {
        const { stringify } = await loadYaml();
        await Deno.mkdir(dirname(file), { recursive: true });
        await Deno.writeTextFile(
          file,
          `# sqlrs workspace, written by "sqlrs init local"\n${stringify(wanted)}`,
        );
      } catch (error) {
        throw new ExitError(EXIT.refused, `Cannot write ${file}: ${(error as Error).message}`);
      }
      const restarted = await stopRunningEngine();
      if (flags.start === false) {
        if (context().json) printJson({ workspace, config: file, actions });
        else {out(
            `initialized ${workspace}${restarted ? " (the running engine was stopped to apply it)" : ""}`,
          );}
        return;
      }
      const status = await (await context().client()).status();
      const selected = status.snapshotBackends.find((backend) => backend.selected);
      if (context().json) {
        printJson({
          workspace,
          config: file,
          actions,
          storeRoot: status.storeRoot,
          snapshot: selected?.name,
        });
      } else {
        out(`initialized ${workspace}`);
        err(`store ${status.storeRoot}, snapshot backend ${selected?.name} (${status.snapshotReason})`);
      }
    });
}
