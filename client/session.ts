/**
 * A connection to the engine for the library (`mod.ts`): finds the local engine or starts one exactly
 * as the CLI does, with the CLI config and workspace defaults that the library's calls fall back on.
 *
 * @module
 */

import { loadCliConfig } from "./config.ts";
import { connectEngine } from "./discovery.ts";
import type { EngineClient } from "./engine_client.ts";
import { moduleEngineCommand } from "./engine_command.ts";
import { remoteClient, selectedProfile } from "./profiles.ts";
import { type EnvLookup, sqlrsPaths } from "../shared/paths.ts";

/**
 * How to reach the engine; every function takes these along with its own options.
 *
 * @example An isolated sqlrs for one test run
 * ```ts
 * import type { ClientOptions } from "@sqlrs/sqlrs";
 * const dir = await Deno.makeTempDir();
 * const options: ClientOptions = { env: { XDG_STATE_HOME: dir }, idleTimeout: "30s" };
 * ```
 */
export interface ClientOptions {
  /**
   * An engine endpoint (`unix:///path.sock` or `http://127.0.0.1:PORT`, token from `SQLRS_TOKEN` or
   * `engine.json`), or `auto` to find or start the local engine.
   * @default `SQLRS_ENGINE_ADDR`, else `auto`
   */
  endpoint?: string | undefined;
  /**
   * A profile of a team engine in the CLI config (`sqlrs init remote NAME`), used instead of the local
   * engine. @default `SQLRS_PROFILE`, else none
   */
  profile?: string | undefined;
  /**
   * Environment variables that replace this process's for finding the engine and its files and for
   * an engine started here (`XDG_STATE_HOME`, `XDG_CONFIG_HOME`, `SQLRS_STATE_STORE`, ...): a private
   * sqlrs without changing `Deno.env`, which parallel test files share.
   * @default this process's environment
   */
  env?: Record<string, string> | undefined;
  /**
   * The directory relative `-f` paths resolve against and where the workspace config is looked up.
   * @default Deno.cwd()
   */
  cwd?: string | undefined;
  /**
   * Timeout of each API request in ms (not of a whole prepare or run), and how long to keep trying to
   * reach an engine again when it went away (stopped, crashed, idled out). @default 30000
   */
  timeoutMs?: number | undefined;
  /** How long an engine started here waits idle before exiting. @default the CLI config's, else "120s" */
  idleTimeout?: string | undefined;
  /** How long to wait for an engine started here to become healthy, in ms. @default 15000 */
  startupTimeoutMs?: number | undefined;
  /**
   * Upload the files a prepare reads to the engine, which then reads its copies (as a remote engine
   * must). @default `SQLRS_UPLOAD_SOURCES=1`, else false
   */
  uploadSources?: boolean | undefined;
}

function envLookup(overrides: Record<string, string> | undefined): EnvLookup {
  return (name) =>
    overrides !== undefined && Object.hasOwn(overrides, name) ? overrides[name] : Deno.env.get(name);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === "" ? undefined : value;
}

/** One connection to the engine; disposing of it closes the client (unless it is {@link borrowed}). */
export interface Session extends Disposable {
  client: EngineClient;
  cwd: string;
  /** The default `--image` of the CLI config. */
  image: string | undefined;
  /** The workspace's `defaults.deadline` and `defaults.statementTimeout`, as the CLI reads them. */
  deadline: string | undefined;
  statementTimeout: string | undefined;
}

/** A session that one caller keeps open: its users must not close it. */
export function borrowed(session: Session): Session {
  return { ...session, [Symbol.dispose]: () => {} };
}

/** Opens a session; dispose of it to close its connections. */
export async function openSession(options: ClientOptions): Promise<Session> {
  const env = envLookup(options.env);
  const cwd = options.cwd ?? Deno.cwd();
  const config = await loadCliConfig({ env, cwd });
  const remote = await selectedProfile(options.profile, env);
  const client = remote !== undefined ? remoteClient(remote, options.timeoutMs) : await connectEngine({
    engineCommand: moduleEngineCommand(),
    // Resolved here so that `options.env` decides, not this process's environment.
    endpoint: options.endpoint ?? nonEmpty(env("SQLRS_ENGINE_ADDR")) ?? nonEmpty(env("TAIDON_ENGINE_ADDR")) ??
      "auto",
    paths: sqlrsPaths(env),
    idleTimeout: options.idleTimeout ?? config.idleTimeout,
    engineEnv: { ...config.engineEnv, ...options.env },
    timeoutMs: options.timeoutMs,
    startupTimeoutMs: options.startupTimeoutMs,
    uploadSources: options.uploadSources ?? env("SQLRS_UPLOAD_SOURCES") === "1",
  });
  return {
    client,
    cwd,
    image: config.image,
    deadline: config.deadline,
    statementTimeout: config.statementTimeout,
    [Symbol.dispose]: () => client[Symbol.dispose](),
  };
}

/** Only the {@link ClientOptions} of `options`, for a later call with the same connection settings. */
export function clientOptionsOf(options: ClientOptions): ClientOptions {
  const { endpoint, profile, env, cwd, timeoutMs, idleTimeout, startupTimeoutMs, uploadSources } = options;
  return { endpoint, profile, env, cwd, timeoutMs, idleTimeout, startupTimeoutMs, uploadSources };
}
