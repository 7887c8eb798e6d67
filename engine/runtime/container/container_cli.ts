/**
 * The docker / podman command line, as the container runtime uses it: every call goes through
 * `exec.ts`, and a daemon that cannot be reached (or a CLI that is not installed) becomes an
 * actionable {@link SqlrsError} `unavailable` instead of a raw command failure.
 *
 * @module
 */

import { type ExecOptions, type ExecResult, run, spawnStreaming, type StreamingChild } from "../../exec.ts";
import { messageOf, SqlrsError } from "../../../shared/errors.ts";
import type { ContainerFlavor } from "./flavor.ts";

/** How the CLI's processes are started: `exec.ts` in the engine, a recording fake in unit tests. */
export interface CliExec {
  run(argv: readonly string[], options: ExecOptions): Promise<ExecResult>;
  spawn(argv: readonly string[], options: ExecOptions): StreamingChild;
}

/** Real processes. */
export const processExec: CliExec = { run, spawn: spawnStreaming };

/** The container engines sqlrs drives. */
export type ContainerEngine = "docker" | "podman";

/** What a probe of the CLI and its daemon found. */
export interface DaemonProbe {
  available: boolean;
  /** Server version when available, else what is wrong and what to do about it. */
  detail: string;
}

const PERMISSION = /permission denied while trying to connect/i;

function tail(text: string, lines = 15): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/** A docker or podman CLI. */
export class ContainerCli {
  readonly engine: ContainerEngine;
  readonly program: string;
  readonly #flavor: ContainerFlavor;
  readonly #exec: CliExec;

  constructor(flavor: ContainerFlavor, program: string = flavor.engine, exec: CliExec = processExec) {
    this.engine = flavor.engine;
    this.program = program;
    this.#flavor = flavor;
    this.#exec = exec;
  }

  /** The error of a daemon that does not answer, if `result` shows one. */
  unreachable(result: ExecResult): SqlrsError | undefined {
    const text = `${result.stderr}\n${result.stdout}`;
    if (this.#flavor.unreachable.test(text)) {
      return new SqlrsError("unavailable", this.#flavor.daemonHint, { details: { runtime: this.engine } });
    }
    if (PERMISSION.test(text)) {
      return new SqlrsError(
        "unavailable",
        `${this.engine}: permission denied on its socket: run the engine as root or as a member of the ${this.engine} group`,
        { details: { runtime: this.engine } },
      );
    }
    return undefined;
  }

  /**
   * Runs `<program> ...args` to completion; a non-zero exit is returned, not thrown, except when the
   * daemon is unreachable or the CLI missing.
   * @throws {SqlrsError} `unavailable`
   */
  async run(args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    let result: ExecResult;
    try {
      result = await this.#exec.run([this.program, ...args], options);
    } catch (error) {
      if (error instanceof SqlrsError && error.code === "unavailable") {
        throw new SqlrsError("unavailable", this.#flavor.installHint, { cause: error });
      }
      throw error;
    }
    if (result.code !== 0) {
      const unreachable = this.unreachable(result);
      if (unreachable !== undefined) throw unreachable;
    }
    return result;
  }

  /** Starts a command whose output streams (for psql and pgbench). */
  spawn(args: readonly string[], options: ExecOptions = {}): StreamingChild {
    try {
      return this.#exec.spawn([this.program, ...args], options);
    } catch (error) {
      if (error instanceof SqlrsError && error.code === "unavailable") {
        throw new SqlrsError("unavailable", this.#flavor.installHint, { cause: error });
      }
      throw error;
    }
  }

  /** Whether the CLI is installed and its daemon answers, with its version or an actionable reason. */
  async probe(): Promise<DaemonProbe> {
    try {
      const result = await this.run(["version", "--format", "{{json .}}"]);
      if (result.code !== 0) {
        return { available: false, detail: `${this.engine} does not answer: ${tail(result.stderr, 3)}` };
      }
      const version = JSON.parse(result.stdout) as {
        Server?: { Version?: string } | null;
        Client?: { Version?: string } | null;
      };
      const server = version.Server?.Version ??
        (this.#flavor.daemonless ? version.Client?.Version : undefined);
      if (server === undefined) return { available: false, detail: this.#flavor.daemonHint };
      return { available: true, detail: `${this.engine} ${server}` };
    } catch (error) {
      return { available: false, detail: messageOf(error) };
    }
  }
}
