/**
 * What differs between docker and podman when they run sqlrs's containers: a strategy each engine
 * supplies (`docker.ts`, `podman.ts`), so the runtime itself never asks which engine it drives.
 *
 * @module
 */

import type { ContainerEngine } from "./container_cli.ts";

/** One container engine's ways. */
export interface ContainerFlavor {
  readonly engine: ContainerEngine;
  /** What the CLI prints when it cannot reach its daemon or service. */
  readonly unreachable: RegExp;
  /** What to do when the daemon does not answer. */
  readonly daemonHint: string;
  /** What to do when the CLI is not installed. */
  readonly installHint: string;
  /** Whether a CLI that reports no server still works (podman runs without a service). */
  readonly daemonless: boolean;
  /** Options every `run` of this engine needs. */
  readonly runOptions: readonly string[];
  /** The reference `pull` fetches for an image reference the user gave. */
  pullRef(ref: string): string;
  /**
   * The commands that remove a container, in order (the last one's outcome counts): when `graceful`,
   * the server gets its stop signal and `stopTimeoutS` seconds first.
   */
  removeCommands(idOrName: string, graceful: boolean, stopTimeoutS: number): string[][];
}
