/**
 * The runtimes sqlrs knows: each runtime's folder exports its registration (name and factory), and
 * this list is the one place they are gathered. The engine builds its runtimes from it; selection,
 * `status` and recovery read that list; the config schema's names come from `shared/runtime_names.ts`.
 *
 * Adding a runtime: a folder `engine/runtime/<name>/` exporting a {@link RuntimeRegistration}, its
 * name in `RUNTIME_NAMES`, and one line here.
 *
 * @module
 */

import { dockerRuntime, podmanRuntime } from "./container/container_runtime.ts";
import { hostRuntime } from "./host/host_runtime.ts";
import type { Runtime, RuntimeContext, RuntimeRegistration } from "./types.ts";

/** Every runtime; container image references try the non-host ones in this order under `auto`. */
export const RUNTIMES: readonly RuntimeRegistration[] = [
  hostRuntime,
  dockerRuntime,
  podmanRuntime,
];

/** One runtime of each registration. */
export function createRuntimes(context: RuntimeContext): Runtime[] {
  return RUNTIMES.map((registration) => registration.create(context));
}
