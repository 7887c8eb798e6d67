/**
 * What every command gets from the global flags: the output format, verbosity, and a connected
 * engine client (found or spawned on first use).
 *
 * @module
 */

import { connectEngine } from "../client/discovery.ts";
import { cliRunTarget } from "../client/engine_command.ts";
import type { EngineClient } from "../client/engine_client.ts";
import { parseDuration } from "../shared/duration.ts";
import { invalidArgument } from "../shared/errors.ts";
import { loadCliConfig } from "../client/config.ts";
import { remoteClient, type RemoteTarget, selectedProfile } from "../client/profiles.ts";

/** The global flags. */
export interface GlobalOptions {
  output: string;
  timeout: string;
  verbose?: boolean | undefined;
  endpoint?: string | undefined;
  profile?: string | undefined;
}

/** The argv that starts an engine from this program (a script run by deno, or a compiled binary). */
export function engineCommand(): string[] {
  if (Deno.build.standalone) return [Deno.execPath(), "engine", "serve"];
  return [Deno.execPath(), "run", "-A", "--quiet", cliRunTarget(Deno.mainModule), "engine", "serve"];
}

/** Per-invocation context of a command. */
export class CliContext {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly #globals: GlobalOptions;
  #client: Promise<EngineClient> | undefined;

  constructor(globals: GlobalOptions) {
    if (globals.output !== "human" && globals.output !== "json") {
      throw invalidArgument(`Invalid --output "${globals.output}": use human or json`);
    }
    this.#globals = globals;
    this.json = globals.output === "json";
    this.verbose = globals.verbose === true;
  }

  /** `--timeout` in ms: for each request, and for reaching an engine again after it went away. */
  get timeoutMs(): number {
    try {
      return parseDuration(this.#globals.timeout);
    } catch (error) {
      throw invalidArgument(`Invalid --timeout: ${(error as Error).message}`);
    }
  }

  /**
   * The engine client, connecting (and spawning the engine) on first use. When the engine goes away
   * (stopped, crashed, idled out), requests find or start the next one within `--timeout`.
   */
  client(): Promise<EngineClient> {
    this.#client ??= (async () => {
      const remote = await this.remote();
      if (remote !== undefined) return remoteClient(remote, this.timeoutMs);
      const config = await loadCliConfig();
      return await connectEngine({
        engineCommand: engineCommand(),
        idleTimeout: config.idleTimeout,
        engineEnv: config.engineEnv,
        timeoutMs: this.timeoutMs,
        uploadSources: Deno.env.get("SQLRS_UPLOAD_SOURCES") === "1",
        ...(this.#globals.endpoint === undefined ? {} : { endpoint: this.#globals.endpoint }),
      });
    })();
    return this.#client;
  }

  /**
   * The team engine `--profile` (or `SQLRS_PROFILE`) selects, or undefined for the local engine.
   * @throws {SqlrsError} `invalid_argument` for an unknown profile, or one given with `--endpoint`
   */
  async remote(): Promise<RemoteTarget | undefined> {
    const remote = await selectedProfile(this.#globals.profile);
    if (remote !== undefined && this.#globals.endpoint !== undefined) {
      throw invalidArgument(`Use --endpoint or a profile ("${remote.name}"), not both`);
    }
    return remote;
  }

  /** Closes the client's connection pool. */
  async close(): Promise<void> {
    if (this.#client === undefined) return;
    try {
      (await this.#client)[Symbol.dispose]();
    } catch {
      // Connection never succeeded.
    }
  }
}
