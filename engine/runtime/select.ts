/**
 * Chooses the runtime for an image reference and finds the runtime of an existing instance.
 *
 * Host builds (`host`, `host:15`, a bare major, or no image) run on the host runtime; container
 * image references go to the configured container runtime.
 *
 * @module
 */

import { SqlrsError } from "../../shared/errors.ts";
import type { Runtime, RuntimeName } from "./types.ts";

/** Picks runtimes. */
export interface RuntimeSelector {
  /** The runtime that serves `imageId` (undefined = the default build). */
  forImage(imageId: string | undefined): Runtime;
  /** The runtime of this name. */
  byName(name: RuntimeName): Runtime;
  /** Every runtime known, for status. */
  all(): Runtime[];
}

/** Whether an image reference names a host PostgreSQL build rather than a container image. */
export function isHostImage(imageId: string | undefined): boolean {
  return imageId === undefined || imageId === "host" || /^host:/.test(imageId) || /^\d+$/.test(imageId);
}

/** A selector over a fixed set of runtimes. */
export function createRuntimeSelector(runtimes: readonly Runtime[]): RuntimeSelector {
  function byName(name: RuntimeName): Runtime {
    const runtime = runtimes.find((candidate) => candidate.name === name);
    if (runtime === undefined) {
      throw new SqlrsError("unavailable", `Runtime "${name}" is not available in this sqlrs`);
    }
    return runtime;
  }
  return {
    forImage(imageId) {
      if (isHostImage(imageId)) return byName("host");
      throw new SqlrsError(
        "invalid_argument",
        `Image "${imageId}" is a container image, and no container runtime is available; use --image host`,
      );
    },
    byName,
    all: () => [...runtimes],
  };
}
