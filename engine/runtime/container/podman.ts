/**
 * The podman flavor of the container runtime: what podman needs that docker does not.
 *
 * @module
 */

import { qualifiedRef } from "./image_identity.ts";
import type { ContainerFlavor } from "./flavor.ts";

/**
 * podman on machines whose root lacks CAP_SYS_RESOURCE fails to set its default rlimits ("error
 * setting rlimit type 7"): ask for what the engine itself has (nproc also capped at conmon's 32768).
 */
function podmanUlimits(): string[] {
  let nofile = 1_048_576;
  let nproc = 32_768;
  try {
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const hard = (name: string) => {
      const match = new RegExp(`^${name}\\s+\\S+\\s+(\\d+|unlimited)`, "m").exec(limits);
      return match?.[1] === undefined || match[1] === "unlimited" ? Infinity : Number(match[1]);
    };
    nofile = Math.min(nofile, hard("Max open files"));
    nproc = Math.min(nproc, hard("Max processes"));
  } catch {
    // not Linux: podman's defaults
    return [];
  }
  return ["--ulimit", `nofile=${nofile}:${nofile}`, "--ulimit", `nproc=${nproc}:${nproc}`];
}

/**
 * podman: rlimits it can set, fully qualified pulls (it refuses short names without configured search
 * registries), and `rm -f -t`, which stops with the container's stop signal (SIGINT) first.
 */
export function podmanFlavor(): ContainerFlavor {
  return {
    engine: "podman",
    unreachable: /Cannot connect to Podman|unable to connect to Podman|podman machine start/i,
    daemonHint:
      'podman cannot reach its service: run "podman machine start" (macOS, Windows) or check "podman info"',
    installHint: "podman is not installed (apt-get install podman)",
    daemonless: true,
    runOptions: podmanUlimits(),
    pullRef: qualifiedRef,
    removeCommands: (idOrName, graceful, stopTimeoutS) => [
      ["rm", "-f", "-v", "-t", graceful ? String(stopTimeoutS) : "0", idOrName],
    ],
  };
}
