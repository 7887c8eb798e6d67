/**
 * Where sqlrs keeps its files on this machine, shared by the CLI and the engine.
 *
 * State dir: `${XDG_STATE_HOME:-~/.local/state}/sqlrs`; as root without `XDG_STATE_HOME`,
 * `/var/lib/sqlrs`, because PostgreSQL then runs as an unprivileged user that cannot reach `/root`.
 * Store root: `SQLRS_STATE_STORE`, else `<state dir>/store`.
 *
 * @module
 */

import { join, resolve } from "node:path";

/** The directories of one sqlrs installation. */
export interface SqlrsPaths {
  stateDir: string;
  storeRoot: string;
  engineFile: string;
  runDir: string;
  logDir: string;
  configDir: string;
}

/** Reads an environment variable (`Deno.env.get` by default); `""` counts as unset. */
export type EnvLookup = (name: string) => string | undefined;

/** Resolves the paths from the environment (this process's, or the one `lookup` describes). */
export function sqlrsPaths(lookup: EnvLookup = (name) => Deno.env.get(name)): SqlrsPaths {
  const env = (name: string): string | undefined => {
    const value = lookup(name);
    return value === undefined || value === "" ? undefined : value;
  };
  const home = (): string => {
    const value = env("HOME");
    if (value === undefined) throw new Error("Cannot locate the sqlrs state directory: HOME is not set");
    return value;
  };
  const xdgState = env("XDG_STATE_HOME");
  const stateDir = xdgState !== undefined
    ? join(resolve(xdgState), "sqlrs")
    : Deno.uid() === 0
    ? "/var/lib/sqlrs"
    : join(home(), ".local", "state", "sqlrs");
  const store = env("SQLRS_STATE_STORE");
  const xdgConfig = env("XDG_CONFIG_HOME");
  return {
    stateDir,
    storeRoot: store !== undefined ? resolve(store) : join(stateDir, "store"),
    engineFile: join(stateDir, "engine.json"),
    runDir: join(stateDir, "run"),
    logDir: join(stateDir, "logs"),
    configDir: join(xdgConfig !== undefined ? resolve(xdgConfig) : join(home(), ".config"), "sqlrs"),
  };
}

/** The engine's unix socket: in the run dir, or under /tmp when that path is too long for a socket. */
export async function engineSocketPath(paths: SqlrsPaths): Promise<string> {
  const preferred = join(paths.runDir, "engine.sock");
  // sun_path holds 108 bytes on Linux.
  if (new TextEncoder().encode(preferred).length <= 100) return preferred;
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(paths.stateDir)),
  );
  const tag = Array.from(digest.slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
  return `/tmp/sqlrs-${Deno.uid()}-${tag}.sock`;
}

/** Writes a file atomically (temp file + rename) with the given mode. */
export async function writeFileAtomic(path: string, content: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  const file = await Deno.open(tmp, { write: true, createNew: true, mode });
  try {
    await file.write(new TextEncoder().encode(content));
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.chmod(tmp, mode);
  await Deno.rename(tmp, path);
}

/** Whether a process with this pid exists. */
export function processAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}
