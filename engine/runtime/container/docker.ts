/**
 * The docker flavor of the container runtime.
 *
 * @module
 */

import type { ContainerFlavor } from "./flavor.ts";

/** docker: short names mean Docker Hub; `rm -f` kills at once, so a graceful removal stops first. */
export const dockerFlavor: ContainerFlavor = {
  engine: "docker",
  unreachable:
    /Cannot connect to the Docker daemon|Is the docker daemon running|error during connect|docker daemon is not running/i,
  daemonHint:
    "docker is installed but its daemon is not running: start it (sudo systemctl start docker, or sudo dockerd &), " +
    'or set container.runtime to "podman"',
  installHint: "docker is not installed (apt-get install docker.io, or Docker Desktop)",
  daemonless: false,
  runOptions: [],
  pullRef: (ref) => ref,
  removeCommands(idOrName, graceful, stopTimeoutS) {
    const remove = ["rm", "-f", "-v", idOrName];
    return graceful ? [["stop", "-t", String(stopTimeoutS), idOrName], remove] : [remove];
  },
};
