/**
 * The CLI's settings, also read by `mod.ts` (which finds and starts the engine the same way):
 * `<config dir>/config.yaml`, overridden by the nearest workspace `.sqlrs/config.yaml` found walking
 * up from the current directory.
 *
 * Keys read here: `orchestrator.idleTimeout` (the engine's idle timeout, default `120s`),
 * `dbms.image` (the default `--image`), `defaults.deadline` (the default `--deadline` of prepares),
 * `defaults.statementTimeout` (the default `--statement-timeout` of prepares and runs) and
 * `defaults.unnamedTtl` (the `--ttl` of a CLI prepare without `--name`, default `8h`; `null` = none).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { invalidArgument } from "../shared/errors.ts";
import { type EnvLookup, sqlrsPaths } from "../shared/paths.ts";
import { loadYaml } from "../shared/deps.ts";

/** The settings the CLI uses. */
export interface CliConfig {
  idleTimeout: string;
  image: string | undefined;
  /** The default `--deadline` of a prepare. */
  deadline: string | undefined;
  /** The default `--statement-timeout` of a prepare's steps and of runs. */
  statementTimeout: string | undefined;
  /** The `--ttl` of a CLI prepare without `--name` (undefined: no limit). */
  unnamedTtl: string | undefined;
  /** Environment for an engine this CLI starts: the workspace's store, snapshot backend, store image. */
  engineEnv: Record<string, string>;
  /** The workspace config file in force, if any. */
  workspaceConfig: string | undefined;
}

/**
 * A YAML file as an object: undefined when it cannot be read, `{}` when it holds no mapping.
 * @throws {SqlrsError} `invalid_argument` when it is not YAML
 */
export async function readYaml(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
  try {
    // Loaded only when a config file exists: the parser costs ~20 ms of every CLI start.
    const { parse } = await loadYaml();
    const value = parse(text);
    return value !== null && typeof value === "object" ? value as Record<string, unknown> : {};
  } catch (error) {
    throw invalidArgument(`Cannot parse ${path}: ${(error as Error).message}`);
  }
}

/** The nearest `.sqlrs/config.yaml` at or above `start`. */
export async function findWorkspaceConfig(start: string): Promise<string | undefined> {
  let dir = start;
  while (true) {
    const candidate = join(dir, ".sqlrs", "config.yaml");
    try {
      if ((await Deno.stat(candidate)).isFile) return candidate;
    } catch {
      // keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function pick(config: Record<string, unknown> | undefined, path: string[]): unknown {
  let node: unknown = config;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/**
 * `defaults.unnamedTtl`: the workspace's over the global one; an explicit `null` turns it off. Checked
 * where a prepare uses it (see `cli/commands/prepare.ts`), so that a bad value breaks nothing else.
 */
function unnamedTtl(...configs: Array<Record<string, unknown> | undefined>): string | undefined {
  const found = configs.map((config) => pick(config, ["defaults", "unnamedTtl"])).find((v) =>
    v !== undefined
  );
  if (found === undefined) return "8h";
  return found === null ? undefined : String(found);
}

/**
 * Loads the CLI settings (also used by `mod.ts`). `env` replaces this process's environment and `cwd`
 * the current directory, for a library caller with its own.
 */
export async function loadCliConfig(
  options: { env?: EnvLookup; cwd?: string } = {},
): Promise<CliConfig> {
  const lookup = options.env ?? ((name: string) => Deno.env.get(name));
  const global = await readYaml(join(sqlrsPaths(lookup).configDir, "config.yaml"));
  const workspacePath = await findWorkspaceConfig(options.cwd ?? Deno.cwd());
  const workspace = workspacePath === undefined ? undefined : await readYaml(workspacePath);
  const value = (path: string[]) => pick(workspace, path) ?? pick(global, path);
  const idleTimeout = value(["orchestrator", "idleTimeout"]);
  const image = value(["dbms", "image"]);
  const text = (path: string[]) => {
    const found = value(path);
    return typeof found === "string" ? found : undefined;
  };
  const engineEnv: Record<string, string> = {};
  const setting = (name: string, path: string[]) => {
    const found = value(path);
    if ((typeof found === "string" || typeof found === "number") && lookup(name) === undefined) {
      engineEnv[name] = String(found);
    }
  };
  setting("SQLRS_STATE_STORE", ["engine", "storePath"]);
  setting("SQLRS_SNAPSHOT_BACKEND", ["snapshot", "backend"]);
  setting("SQLRS_STORE_IMAGE", ["store", "image"]);
  const sizeGb = value(["store", "sizeGB"]);
  if (typeof sizeGb === "number" && lookup("SQLRS_STORE_IMAGE_SIZE") === undefined) {
    engineEnv.SQLRS_STORE_IMAGE_SIZE = String(sizeGb * 1024 ** 3);
  }
  return {
    idleTimeout: typeof idleTimeout === "string" ? idleTimeout : "120s",
    image: typeof image === "string" ? image : undefined,
    deadline: text(["defaults", "deadline"]),
    statementTimeout: text(["defaults", "statementTimeout"]),
    unnamedTtl: unnamedTtl(workspace, global),
    engineEnv,
    workspaceConfig: workspacePath,
  };
}
