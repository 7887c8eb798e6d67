/**
 * The containers sqlrs creates: their labels and names, their state, their removal, and finding them
 * again after an engine restart.
 *
 * @module
 */

import { resolve } from "node:path";
import { SqlrsError } from "../../../shared/errors.ts";
import { lastLines, sha256Hex } from "../_support.ts";
import type { ContainerCli } from "./container_cli.ts";
import type { ContainerFlavor } from "./flavor.ts";

/** Where the socket dir is mounted inside every container (the default of Debian's libpq). */
export const CONTAINER_SOCKET_DIR = "/var/run/postgresql";
/** The port the server listens on inside its container. */
export const CONTAINER_PORT = 5432;
/** How long a stop waits for a fast shutdown before the engine kills the server. */
export const STOP_TIMEOUT_S = 60;

/** Labels on every container sqlrs creates. */
export const LABELS = {
  engine: "sqlrs.engine",
  store: "sqlrs.store",
  dataDir: "sqlrs.data-dir",
} as const;

/** A container of ours, as listed. */
export interface LabelledContainer {
  id: string;
  dataDir: string;
  running: boolean;
}

/** The containers of one engine (docker or podman) and one store. */
export class Containers {
  readonly #cli: ContainerCli;
  readonly #flavor: ContainerFlavor;
  readonly #storeRoot: string;

  constructor(cli: ContainerCli, flavor: ContainerFlavor, storeRoot: string) {
    this.#cli = cli;
    this.#flavor = flavor;
    this.#storeRoot = resolve(storeRoot);
  }

  /** The `--label` options of a container serving (or working for) `dataDir`. */
  labels(dataDir: string): string[] {
    return [
      "--label",
      `${LABELS.engine}=1`,
      "--label",
      `${LABELS.store}=${this.#storeRoot}`,
      "--label",
      `${LABELS.dataDir}=${dataDir}`,
    ];
  }

  /** The name of the server container of `dataDir` (one per data dir, so a second start conflicts). */
  nameFor(dataDir: string): string {
    return `sqlrs-${sha256Hex(dataDir).slice(0, 16)}`;
  }

  /** Container state: running, exited, or gone (undefined). */
  async state(idOrName: string): Promise<{ id: string; running: boolean } | undefined> {
    const result = await this.#cli.run([
      "container",
      "inspect",
      "--format",
      "{{.Id}} {{.State.Running}}",
      idOrName,
    ]);
    if (result.code !== 0) return undefined;
    const [id, running] = result.stdout.trim().split(" ");
    return { id: id ?? idOrName, running: running === "true" };
  }

  /** Removes a container and its anonymous volumes; `graceful` lets its server shut down first. Idempotent. */
  async remove(idOrName: string, graceful: boolean): Promise<void> {
    let result;
    for (const command of this.#flavor.removeCommands(idOrName, graceful, STOP_TIMEOUT_S)) {
      result = await this.#cli.run(command);
    }
    if (
      result !== undefined && result.code !== 0 &&
      !/no such container|no container with name or id/i.test(result.stderr)
    ) {
      throw new SqlrsError(
        "internal_error",
        `Cannot remove ${this.#flavor.engine} container ${idOrName}: ${lastLines(result.stderr, 5)}`,
      );
    }
  }

  /** Every container labelled as ours, running or not; none when the CLI or its daemon is missing. */
  async listOurs(): Promise<LabelledContainer[]> {
    let ids: string[];
    try {
      const listed = await this.#cli.run([
        "ps",
        "-a",
        "-q",
        "--no-trunc",
        "--filter",
        `label=${LABELS.engine}=1`,
      ]);
      if (listed.code !== 0) return [];
      ids = listed.stdout.split("\n").map((line) => line.trim()).filter((line) => line !== "");
    } catch {
      return []; // no CLI or no daemon: nothing of ours can run
    }
    if (ids.length === 0) return [];
    const inspected = await this.#cli.run([
      "container",
      "inspect",
      "--format",
      `{{.Id}}\t{{index .Config.Labels "${LABELS.dataDir}"}}\t{{.State.Running}}`,
      ...ids,
    ]);
    const found: LabelledContainer[] = [];
    for (const line of inspected.stdout.split("\n")) {
      const [id, dataDir, running] = line.split("\t");
      if (id === undefined || id === "" || dataDir === undefined || dataDir === "") continue;
      found.push({ id, dataDir, running: running === "true" });
    }
    return found;
  }
}
