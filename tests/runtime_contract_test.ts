/**
 * The runtime contract (engine/runtime/_contract.ts) on the host runtime and on docker and podman
 * with the locally built test image. A runtime that cannot work here is ignored with its reason,
 * except under `CI=true`, where that fails.
 *
 * @module
 */

import { runRuntimeContract } from "../engine/runtime/_contract.ts";
import { createContainerRuntime } from "../engine/runtime/container/container_runtime.ts";
import { createHostRuntime } from "../engine/runtime/host/host_runtime.ts";
import { containersUnder, containerUnavailable, engineCommand, TEST_IMAGE } from "./_containers.ts";
import { need, testNeeding } from "./_needs.ts";

const hostProbe = await createHostRuntime().probe();
runRuntimeContract("host runtime", {
  register: (definition) =>
    testNeeding(need(hostProbe.available, `PostgreSQL on the host (${hostProbe.detail})`), definition),
  create: createHostRuntime,
  imageId: undefined,
});

for (const engine of ["docker", "podman"] as const) {
  const why = await containerUnavailable(engine);
  runRuntimeContract(`${engine} runtime`, {
    register: (definition) => testNeeding(need(why === undefined, why ?? engine), definition),
    create: () => createContainerRuntime(engine, { storeRoot: "/nonexistent-contract-store" }),
    imageId: TEST_IMAGE,
    leftovers: (dir) => containersUnder(engine, dir),
    async removeLeftovers(dir) {
      const left = await containersUnder(engine, dir);
      if (left.length > 0) await engineCommand(engine, ["rm", "-f", "-v", ...left]);
    },
  });
}
