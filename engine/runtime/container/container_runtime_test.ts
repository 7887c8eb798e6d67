/**
 * The command lines the container runtime sends to docker and podman, seen through a recording fake
 * of their CLI (no daemon). The real daemons are tested in tests/runtime_container_test.ts and the
 * runtime contract.
 */

import assert from "node:assert/strict";
import type { ExecOptions, ExecResult, StreamingChild } from "../../exec.ts";
import type { ResolvedImage, ServerHandle } from "../types.ts";
import type { CliExec } from "./container_cli.ts";
import { createContainerRuntime } from "./container_runtime.ts";

const ID = `sha256:${"a".repeat(64)}`;

/** A CLI that records every argv and answers with `answer` (default: exit 0, no output). */
function recordingCli(answer: (argv: readonly string[]) => Partial<ExecResult> = () => ({})) {
  const calls: string[][] = [];
  const exec: CliExec = {
    run(argv: readonly string[], _options: ExecOptions) {
      calls.push([...argv]);
      return Promise.resolve({ code: 0, stdout: "", stderr: "", ...answer(argv) });
    },
    spawn(argv: readonly string[], _options: ExecOptions): StreamingChild {
      calls.push([...argv]);
      const empty = () => new ReadableStream<Uint8Array>({ start: (c) => c.close() });
      return { pid: 1, stdout: empty(), stderr: empty(), status: Promise.resolve(0), kill() {} };
    },
  };
  return { exec, calls };
}

const image: ResolvedImage = {
  runtime: "docker",
  imageId: "postgres:17",
  resolvedId: ID,
  storeDir: "container/postgres-17-aaaaaaaaaaaa",
  major: 17,
  toolIdentity: "psql (PostgreSQL) 17.0",
};

function server(engine: "docker" | "podman"): ServerHandle {
  return {
    runtime: engine,
    runtimeId: "c0ffee",
    dataDir: "/store/jobs/j1/data",
    host: "127.0.0.1",
    port: 54321,
    socketDir: "/store/jobs/j1/run/sock",
    user: "postgres",
    password: "pw",
    logFile: "/store/jobs/j1/run/postgres.log",
  };
}

Deno.test("stop() on docker stops the container gracefully, then removes it", async () => {
  const { exec, calls } = recordingCli();
  await createContainerRuntime("docker", { storeRoot: "/store", exec }).stop(server("docker"));
  assert.deepEqual(calls, [
    ["docker", "stop", "-t", "60", "c0ffee"],
    ["docker", "rm", "-f", "-v", "c0ffee"],
  ]);
});

Deno.test("stop() on podman removes with a stop timeout in one command", async () => {
  const { exec, calls } = recordingCli();
  await createContainerRuntime("podman", { storeRoot: "/store", exec }).stop(server("podman"));
  assert.deepEqual(calls, [["podman", "rm", "-f", "-v", "-t", "60", "c0ffee"]]);
});

for (
  const [engine, pulled] of [["docker", "postgres:17"], ["podman", "docker.io/library/postgres:17"]] as const
) {
  Deno.test(`resolveImage() on ${engine} pulls a missing image as ${pulled} and probes it without network`, async () => {
    let present = false;
    const { exec, calls } = recordingCli((argv) => {
      if (argv[1] === "pull") present = true;
      if (argv[1] === "image") {
        return present ? { stdout: JSON.stringify([{ Id: ID, RepoDigests: [] }]) } : { code: 1 };
      }
      if (argv[1] === "run") {
        return {
          stdout: "uid=101\ngid=104\npostgres=postgres (PostgreSQL) 17.2\npsql=psql (PostgreSQL) 17.2\n",
        };
      }
      return {};
    });
    const resolved = await createContainerRuntime(engine, { storeRoot: "/store", exec }).resolveImage(
      "postgres:17",
    );
    assert.deepEqual(calls.map((argv) => argv.slice(1, 3)), [
      ["image", "inspect"],
      ["pull", "-q"],
      ["image", "inspect"],
      ["run", "--rm"],
    ]);
    assert.deepEqual(calls[1], [engine, "pull", "-q", pulled]);
    const probe = calls[3] ?? [];
    assert.deepEqual(probe.slice(probe.indexOf("--network"), probe.indexOf("--network") + 2), [
      "--network",
      "none",
    ]);
    assert.equal(probe.includes("--ulimit"), engine === "podman", "only podman asks for rlimits");
    assert.deepEqual(resolved, { ...image, runtime: engine, toolIdentity: "psql (PostgreSQL) 17.2" });
  });
}

Deno.test("spawnTool() execs in the server container when no file is opened, else runs a tool container", async () => {
  const work = await Deno.makeTempDir({ prefix: "sqlrs-tool-cwd-" });
  try {
    const { exec, calls } = recordingCli();
    const runtime = createContainerRuntime("docker", { storeRoot: "/store", exec });
    const connection = ["-h", "/var/run/postgresql", "-p", "5432", "-U", "postgres"];
    await runtime.spawnTool(image, server("docker"), "psql", ["-c", "select 1"], { cwd: work }).status;
    const inServer = calls[0] ?? [];
    assert.deepEqual(inServer.slice(0, 2), ["docker", "exec"]);
    assert.deepEqual(
      inServer.slice(-12),
      ["c0ffee", "psql", "-c", "select 1", ...connection, "-d", "postgres"],
    );
    assert.equal(inServer[inServer.indexOf("-w") + 1], "/", "a dir the server does not see is not its cwd");

    await runtime.spawnTool(image, server("docker"), "pgbench", ["-f", "b.sql"], {
      cwd: work,
      database: "db",
    })
      .status;
    const toolContainer = calls[1] ?? [];
    assert.deepEqual(toolContainer.slice(0, 3), ["docker", "run", "--rm"]);
    assert.ok(toolContainer.includes(`${work}:${work}:ro`), "the work dir is mounted read-only");
    assert.equal(toolContainer[toolContainer.indexOf("-w") + 1], work);
    assert.deepEqual(
      toolContainer.slice(-10),
      [ID, "-f", "b.sql", ...connection, "db"],
      "pgbench's database is positional",
    );
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("stopStrays() removes only labelled containers of data dirs under the root, except those kept", async () => {
  const { exec, calls } = recordingCli((argv) => {
    if (argv[1] === "ps") return { stdout: "id1\nid2\nid3\n" };
    if (argv[1] === "container") {
      return { stdout: "id1\t/store/a/data\ttrue\nid2\t/elsewhere/data\ttrue\nid3\t/store/b/data\tfalse\n" };
    }
    return {};
  });
  const runtime = createContainerRuntime("podman", { storeRoot: "/store", exec });
  assert.deepEqual(await runtime.stopStrays("/store", (dir) => dir === "/store/kept"), ["/store/a/data"]);
  assert.deepEqual(calls.slice(2).sort(), [
    ["podman", "rm", "-f", "-v", "-t", "0", "id3"],
    ["podman", "rm", "-f", "-v", "-t", "60", "id1"],
  ]);
});
