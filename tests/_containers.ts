/**
 * Container runtimes for the tests: which of docker and podman can run the test image here, and
 * clean-up of the containers a test left (found by the labels sqlrs puts on every container).
 *
 * The image is `SQLRS_TEST_IMAGE` (default `sqlrs-local/postgres:15`, built by
 * `scripts/build-pg-image.sh --runtime docker|podman`, which `.ci/run` does).
 *
 * @module
 */

import { type Need, need } from "./_needs.ts";

/** The container engines the tests run on. */
export type ContainerEngine = "docker" | "podman";

/** The image container tests use. */
export const TEST_IMAGE = Deno.env.get("SQLRS_TEST_IMAGE") ?? "sqlrs-local/postgres:15";

/** Runs a docker/podman command; never throws (a missing CLI is exit code 127). */
export async function engineCommand(
  engine: ContainerEngine,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const output = await new Deno.Command(engine, { args, stdout: "piped", stderr: "piped", stdin: "null" })
      .output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } catch {
    return { code: 127, stdout: "", stderr: `${engine}: not found` };
  }
}

const availability = new Map<ContainerEngine, Promise<string | undefined>>();

/** Why `engine` cannot run the test image here, or undefined when it can. */
export function containerUnavailable(engine: ContainerEngine): Promise<string | undefined> {
  let why = availability.get(engine);
  if (why === undefined) {
    why = (async () => {
      const version = await engineCommand(engine, ["version"]);
      if (version.code !== 0) return `${engine} (${version.stderr.trim().split("\n").pop()})`;
      const image = await engineCommand(engine, ["image", "inspect", TEST_IMAGE]);
      if (image.code !== 0) {
        return `${engine} image ${TEST_IMAGE} (scripts/build-pg-image.sh --runtime ${engine})`;
      }
      return undefined;
    })();
    availability.set(engine, why);
  }
  return why;
}

/** What the container tests of `engine` need (see `testNeeding`). */
export async function containerNeed(engine: ContainerEngine): Promise<Need> {
  const why = await containerUnavailable(engine);
  return need(why === undefined, why ?? engine);
}

/** Ids of the containers (running or not) labelled with a store or data dir under `root`. */
export async function containersUnder(engine: ContainerEngine, root: string): Promise<string[]> {
  const listed = await engineCommand(engine, [
    "ps",
    "-a",
    "-q",
    "--no-trunc",
    "--filter",
    "label=sqlrs.engine=1",
  ]);
  const ids = listed.stdout.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  if (listed.code !== 0 || ids.length === 0) return [];
  const inspected = await engineCommand(engine, [
    "container",
    "inspect",
    "--format",
    '{{.Id}}\t{{index .Config.Labels "sqlrs.store"}}\t{{index .Config.Labels "sqlrs.data-dir"}}',
    ...ids,
  ]);
  const under = (path: string | undefined) =>
    path !== undefined && (path === root || path.startsWith(`${root}/`));
  return inspected.stdout.split("\n")
    .map((line) => line.split("\t"))
    .filter(([id, store, dataDir]) => id !== undefined && id !== "" && (under(store) || under(dataDir)))
    .map(([id]) => id as string);
}

/** Force-removes every container of docker and podman that belongs to `root` (a sandbox). */
export async function removeContainersUnder(root: string): Promise<void> {
  await Promise.all((["docker", "podman"] as const).map(async (engine) => {
    if ((await engineCommand(engine, ["version"])).code !== 0) return;
    const ids = await containersUnder(engine, root);
    if (ids.length > 0) await engineCommand(engine, ["rm", "-f", "-v", ...ids]);
  }));
}
