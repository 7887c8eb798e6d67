/**
 * The `docker` and `podman` runtimes: one container per server, from a PostgreSQL image.
 *
 * This file composes the parts: image resolution (`images.ts`), mounts (`mounts.ts`), the server
 * lifecycle (`server.ts`), tool exec (`tools.ts`), the containers and their labels (`containers.ts`);
 * what differs between docker and podman is a flavor (`docker.ts`, `podman.ts`).
 *
 * - **Identity.** An image reference resolves to its registry digest (`docker.io/library/postgres@sha256:…`)
 *   or, for a local image, its image id (`sha256:…`); that is the `resolvedId` every fingerprint
 *   contains, and containers run that exact reference. The store dir is `container/postgres-<major>-<12
 *   hex of the id>-b<base version>`: docker and podman running the same image share bases and states.
 * - **Paths.** PGDATA is bind-mounted at its host path, and so are the server's run dir (its log) and
 *   the directories psql reads (read-only), so no path is rewritten: `-f /abs/file.sql`, the work dir
 *   and `postmaster.pid` mean the same inside and out. The socket dir `<runDir>/sock` is mounted at
 *   `/var/run/postgresql`.
 * - **Users.** The server runs as the owner of the data directory (`--user uid:gid`), which initBase
 *   makes the image's `postgres` user (probed once per image; 999 in the official images).
 * - **Entry point.** sqlrs never uses the image's entry point (the official images' initialises and
 *   chowns): it runs `initdb` and `postgres` itself, so `postgres:NN` and a plain Debian image work alike.
 *   Volumes the image declares get a tmpfs, so that no anonymous volume is left behind.
 * - **Network.** The server listens on the container's network, published on a loopback port
 *   (`-p 127.0.0.1:PORT:5432`) for DSNs; pg_hba (BASE_HBA) asks every address for SCRAM (an instance's
 *   role) and trusts the socket.
 * - **Tools.** psql and pgbench run inside, as the engine's user: `exec` in the server container when the
 *   work dir is mounted there (prepare steps) or the invocation opens no file, else a short-lived tool
 *   container that mounts the work dir and the socket dir. Not the host's psql through the socket dir
 *   (faster: about 40 ms against 85 ms for docker exec, 170 ms for podman exec), because the state key
 *   then holds the image's psql (`toolIdentity`), the same on every machine, and a host needs no psql.
 * - **Readiness** is the status line of `postmaster.pid` (polled every few ms on the host), **stop** a
 *   SIGINT (fast shutdown) and removal, and every container carries `sqlrs.engine=1`, `sqlrs.store` and
 *   `sqlrs.data-dir` labels so that a later engine finds what a killed one left.
 *
 * @module
 */

import { resolve } from "node:path";
import type { Runtime, RuntimeRegistration } from "../types.ts";
import { isUnder } from "../_support.ts";
import { collectOutput, serverDsn } from "../_pg_server.ts";
import { type CliExec, ContainerCli, type ContainerEngine, processExec } from "./container_cli.ts";
import { Containers } from "./containers.ts";
import { dockerFlavor } from "./docker.ts";
import type { ContainerFlavor } from "./flavor.ts";
import { ImageCatalog } from "./images.ts";
import type { ContainerParts } from "./parts.ts";
import { podmanFlavor } from "./podman.ts";
import { initContainerBase, startContainerServer, stopContainerServer } from "./server.ts";
import { spawnContainerTool } from "./tools.ts";

const FLAVORS: Record<ContainerEngine, () => ContainerFlavor> = {
  docker: () => dockerFlavor,
  podman: podmanFlavor,
};

/** Options of {@link createContainerRuntime}. */
export interface ContainerRuntimeOptions {
  /** The store root, recorded in the `sqlrs.store` label of every container. */
  storeRoot: string;
  /** The CLI program (default: `docker` or `podman` from PATH). */
  program?: string;
  /** How the CLI's processes start (default: real processes; a recording fake in unit tests). */
  exec?: CliExec;
}

/** Creates the docker or podman runtime. */
export function createContainerRuntime(engine: ContainerEngine, options: ContainerRuntimeOptions): Runtime {
  const flavor = FLAVORS[engine]();
  const cli = new ContainerCli(flavor, options.program, options.exec ?? processExec);
  const parts: ContainerParts = {
    cli,
    flavor,
    containers: new Containers(cli, flavor, options.storeRoot),
    images: new ImageCatalog(cli, flavor),
  };
  const spawnTool: Runtime["spawnTool"] = (image, server, tool, args, toolOptions) =>
    spawnContainerTool(parts, image, server, tool, args, toolOptions);

  return {
    name: engine,
    resolveImage: (imageId) => parts.images.resolve(imageId),
    initBase: (image, volume) => initContainerBase(parts, image, volume.path),
    start: (image, volume, startOptions) => startContainerServer(parts, image, volume.path, startOptions),
    stop: (server) => stopContainerServer(parts, server),
    async isRunning(server) {
      try {
        return (await parts.containers.state(server.runtimeId))?.running === true;
      } catch {
        return false;
      }
    },
    spawnTool,
    exec: (image, server, tool, args, toolOptions) =>
      collectOutput(spawnTool(image, server, tool, args, toolOptions)),
    dsn: serverDsn,
    async stopStrays(root, keep) {
      const rootAbs = resolve(root);
      const strays = (await parts.containers.listOurs()).filter((container) =>
        isUnder(resolve(container.dataDir), rootAbs) && !keep(container.dataDir)
      );
      await Promise.all(strays.map((stray) => parts.containers.remove(stray.id, stray.running)));
      return strays.filter((stray) => stray.running).map((stray) => stray.dataDir);
    },
    probe: () => cli.probe(),
  };
}

/** The docker runtime's registration. */
export const dockerRuntime: RuntimeRegistration = {
  name: "docker",
  create: ({ storeRoot }) => createContainerRuntime("docker", { storeRoot }),
};

/** The podman runtime's registration. */
export const podmanRuntime: RuntimeRegistration = {
  name: "podman",
  create: ({ storeRoot }) => createContainerRuntime("podman", { storeRoot }),
};
