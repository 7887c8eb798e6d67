/**
 * The docker flavor of the container runtime.
 *
 * @module
 */

import type { ContainerFlavor } from "./flavor.ts";

/** docker: short names mean Docker Hub; `rm -f` kills at once, so a graceful removal stops first. */
export const dockerFlavor: ContainerFlavor = {
  engine: "docker",
  runOptions: [],
  pullRef: (ref) => ref,
  removeCommands(idOrName, graceful, stopTimeoutS) {
    const remove = ["rm", "-f", "-v", idOrName];
    return graceful ? [["stop", "-t", String(stopTimeoutS), idOrName], remove] : [remove];
  },
};
