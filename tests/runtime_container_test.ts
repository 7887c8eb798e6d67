/**
 * Tests of what only the `docker` and `podman` runtimes do, against the real daemons and the locally
 * built image (`scripts/build-pg-image.sh`): image identity, labels, mounts, tool containers, removed
 * containers; and of runtime selection. What every runtime does is in the runtime contract
 * (tests/runtime_contract_test.ts). Without docker/podman or the image the
 * container tests are skipped, except under `CI=true`, where they fail.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createCopyStateFS } from "../engine/statefs/copy.ts";
import type { Volume } from "../engine/statefs/types.ts";
import { BASE_VERSION } from "../engine/runtime/host/pg_install.ts";
import { createContainerRuntime } from "../engine/runtime/container/container_runtime.ts";
import {
  containerStoreDir,
  imageIdentity,
  qualifiedRef,
  qualifiedRepo,
} from "../engine/runtime/container/image_identity.ts";
import { mountPlan } from "../engine/runtime/container/mounts.ts";
import { readsFiles } from "../engine/runtime/container/tool_files.ts";
import { createRuntimeSelector } from "../engine/runtime/select.ts";
import type {
  ResolvedImage,
  Runtime,
  RuntimeName,
  ServerHandle,
  ToolOptions,
} from "../engine/runtime/types.ts";
import { SqlrsError } from "../shared/errors.ts";
import {
  type ContainerEngine,
  containerNeed,
  containersUnder,
  engineCommand,
  TEST_IMAGE,
} from "./_containers.ts";
import { testNeeding } from "./_needs.ts";

// ---------------------------------------------------------------------------------------------
// Pure parts

Deno.test("mountPlan() keeps existing directories, drops / and covered ones, refuses system paths", () => {
  const exists = (path: string) => !path.includes("missing");
  assert.deepEqual(mountPlan(["/work/a/b", "/work/a", "/", "/work/c/", "/work/missing"], exists), [
    "/work/a",
    "/work/c",
  ]);
  assert.deepEqual(mountPlan(["/usr/src/app", "/tmp"], exists), ["/tmp", "/usr/src/app"]);
  for (const path of ["/usr", "/etc", "/var", "/var/lib", "/proc/self", "/dev", "/lib"]) {
    assert.throws(
      () => mountPlan([path], exists),
      (e) => e instanceof SqlrsError && e.code === "invalid_argument" && e.message.includes(path),
      path,
    );
  }
});

Deno.test("imageIdentity() prefers a registry digest of the requested repository, else the image id", () => {
  const id = `sha256:${"a".repeat(64)}`;
  const digest = `sha256:${"b".repeat(64)}`;
  assert.equal(imageIdentity("sqlrs-local/postgres:15", id, []), id);
  assert.equal(imageIdentity("x", "a".repeat(64), []), id, "podman's ids have no prefix");
  assert.equal(
    imageIdentity("x", id, [`localhost/x@${digest}`]),
    id,
    "a local manifest is no registry digest",
  );
  assert.equal(
    imageIdentity("postgres:17", id, [`postgres@${digest}`]),
    `docker.io/library/postgres@${digest}`,
  );
  assert.equal(
    imageIdentity("postgres:17", id, [`docker.io/library/postgres@${digest}`]),
    `docker.io/library/postgres@${digest}`,
    "docker and podman spellings agree",
  );
  const other = `sha256:${"c".repeat(64)}`;
  assert.equal(
    imageIdentity("quay.io/me/pg:1", id, [`mirror.example/pg@${other}`, `quay.io/me/pg@${digest}`]),
    `quay.io/me/pg@${digest}`,
  );
  assert.equal(qualifiedRepo("me/pg"), "docker.io/me/pg");
  assert.equal(qualifiedRef("postgres:17"), "docker.io/library/postgres:17");
  assert.equal(qualifiedRef("localhost:5000/pg:1"), "localhost:5000/pg:1");
  assert.equal(qualifiedRef(`postgres@${digest}`), `docker.io/library/postgres@${digest}`);
  assert.equal(qualifiedRef("quay.io/x/pg"), "quay.io/x/pg");
  assert.equal(qualifiedRepo("localhost:5000/pg"), "localhost:5000/pg");
  assert.equal(containerStoreDir(id, 15), `container/postgres-15-aaaaaaaaaaaa-b${BASE_VERSION}`);
  assert.equal(
    containerStoreDir(`docker.io/library/postgres@${digest}`, 17),
    `container/postgres-17-bbbbbbbbbbbb-b${BASE_VERSION}`,
  );
});

Deno.test("readsFiles() tells the invocations that open files relative to the work dir", () => {
  assert.equal(readsFiles("psql", ["-c", "select 1"], undefined), false);
  assert.equal(readsFiles("psql", ["-f", "-"], "select 1;\n"), false);
  assert.equal(readsFiles("psql", ["-f", "-"], "select 1;\n\\i lib/x.sql\n"), true);
  assert.equal(readsFiles("psql", ["-f", "-"], new TextEncoder().encode("\\copy t from 'd.csv'\n")), true);
  assert.equal(readsFiles("psql", ["-c", "\\ir x.sql"], undefined), true);
  assert.equal(readsFiles("psql", ["-f", "a.sql"], undefined), true);
  assert.equal(readsFiles("psql", ["--file=a.sql"], undefined), true);
  assert.equal(readsFiles("psql", ["-Atf", "a.sql"], undefined), true, "bundled with flags");
  assert.equal(readsFiles("psql", ["-Atc", "select 1"], undefined), false);
  assert.equal(readsFiles("psql", ["-o", "out.txt", "-c", "select 1"], undefined), true);
  assert.equal(readsFiles("psql", ["-c", "select '\\d'"], undefined), false);
  assert.equal(readsFiles("pgbench", ["-i", "-s", "1"], undefined), false);
  assert.equal(readsFiles("pgbench", ["-c", "2", "-L", "100"], undefined), false);
  assert.equal(readsFiles("pgbench", ["-f", "bench.sql@2"], undefined), true);
});

function fakeRuntime(
  name: RuntimeName,
  available: boolean,
  detail = `${name} 1.0`,
): Runtime & { probes: number } {
  const runtime = {
    name,
    probes: 0,
    probe() {
      runtime.probes++;
      return Promise.resolve({ available, detail });
    },
  };
  return runtime as unknown as Runtime & { probes: number };
}

Deno.test("createRuntimeSelector(): host images go to host; auto takes docker, then podman; errors say what to do", async () => {
  const host = fakeRuntime("host", true);
  const docker = fakeRuntime("docker", false, "docker is installed but its daemon is not running: start it");
  const podman = fakeRuntime("podman", true);
  let setting: "auto" | "docker" | "podman" | "host" = "auto";
  let envValue: string | undefined;
  const selector = createRuntimeSelector([host, docker, podman], {
    containerRuntime: () => setting,
    env: () => envValue,
  });
  for (const image of [undefined, "host", "host:15", "15"]) {
    assert.equal((await selector.forImage(image)).name, "host");
  }
  assert.equal((await selector.forImage("postgres:17")).name, "podman");
  assert.equal(await selector.containerRuntimeName(), "podman");
  setting = "docker";
  await assert.rejects(
    selector.forImage("postgres:17"),
    (e) => e instanceof SqlrsError && e.code === "unavailable" && /start it/.test(e.message),
  );
  setting = "host";
  await assert.rejects(
    selector.forImage("postgres:17"),
    (e) => e instanceof SqlrsError && e.code === "invalid_argument" && /--image host/.test(e.message),
  );
  envValue = "podman";
  assert.equal((await selector.forImage("postgres:17")).name, "podman", "the env overrides the config");
  envValue = "lxc";
  await assert.rejects(
    selector.forImage("postgres:17"),
    (e) => e instanceof SqlrsError && /lxc/.test(e.message),
  );
  envValue = undefined;
  setting = "auto";

  const none = createRuntimeSelector([host, docker, fakeRuntime("podman", false, "podman is not installed")]);
  await assert.rejects(
    none.forImage("postgres:17"),
    (e) =>
      e instanceof SqlrsError && e.code === "unavailable" && /daemon is not running/.test(e.message) &&
      /podman is not installed/.test(e.message),
  );
  assert.equal(await none.containerRuntimeName(), undefined);
  // A daemon that answered is not probed again at once.
  const probes = podman.probes;
  await selector.forImage("postgres:17");
  assert.equal(podman.probes, probes);
});

Deno.test({
  name: "the docker runtime reports a stopped daemon with what to do, never a stack trace",
  async fn() {
    if ((await engineCommand("docker", ["--version"])).code !== 0) return;
    const previous = Deno.env.get("DOCKER_HOST");
    Deno.env.set("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    try {
      const runtime = createContainerRuntime("docker", { storeRoot: "/nonexistent" });
      const probe = await runtime.probe();
      assert.equal(probe.available, false);
      assert.match(probe.detail, /daemon is not running: start it/);
      await assert.rejects(
        runtime.resolveImage(TEST_IMAGE),
        (e) => e instanceof SqlrsError && e.code === "unavailable" && /dockerd/.test(e.message),
      );
      assert.deepEqual(await runtime.stopStrays("/nonexistent", () => false), []);
    } finally {
      if (previous === undefined) Deno.env.delete("DOCKER_HOST");
      else Deno.env.set("DOCKER_HOST", previous);
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Real daemons

interface Fixture {
  runtime: Runtime;
  image: ResolvedImage;
  root: string;
  base: string;
}

const fixtures = new Map<ContainerEngine, Promise<Fixture>>();
/** What hands over the volumes servers run on, as in the engine. */
const statefs = createCopyStateFS();
const roots: string[] = [];

globalThis.addEventListener("unload", () => {
  for (const root of roots) Deno.removeSync(root, { recursive: true });
});

function fixture(engine: ContainerEngine): Promise<Fixture> {
  let made = fixtures.get(engine);
  if (made === undefined) {
    made = (async () => {
      const root = await Deno.makeTempDir({ prefix: `sqlrs-${engine}-test-` });
      roots.push(root);
      // Mounted as a work dir in some tests: the server user must be able to pass through it.
      await Deno.chmod(root, 0o755);
      const runtime = createContainerRuntime(engine, { storeRoot: root });
      const image = await runtime.resolveImage(TEST_IMAGE);
      const base = await statefs.createEmpty(join(root, "base"));
      await runtime.initBase(image, base);
      return { runtime, image, root, base: base.path };
    })();
    fixtures.set(engine, made);
  }
  return made;
}

let clones = 0;

/** A clone of `src` (the base by default), its data directory, and a run dir for it. */
async function cloneOf(
  engine: ContainerEngine,
  src?: string,
): Promise<{ volume: Volume; dataDir: string; runDir: string }> {
  const { root, base } = await fixture(engine);
  const n = ++clones;
  const volume = await statefs.clone(src ?? base, join(root, `clone-${n}`));
  return { volume, dataDir: volume.path, runDir: join(root, `run-${n}`) };
}

async function tool(
  fx: Fixture,
  server: ServerHandle,
  name: "psql" | "pgbench",
  args: string[],
  options: Partial<ToolOptions> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await fx.runtime.exec(fx.image, server, name, args, { cwd: "/", ...options });
  return { ...result, stdout: result.stdout.trim() };
}

function psql(fx: Fixture, server: ServerHandle, sql: string, options: Partial<ToolOptions> = {}) {
  return tool(fx, server, "psql", ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql], options);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

for (const engine of ["docker", "podman"] as const) {
  const needed = await containerNeed(engine);
  const containerTest = (name: string, fn: (fx: Fixture) => Promise<void>): void => {
    testNeeding(needed, `${engine} runtime: ${name}`, async () => {
      const fx = await fixture(engine);
      try {
        await fn(fx);
      } finally {
        const left = await containersUnder(engine, fx.root);
        if (left.length > 0) await engineCommand(engine, ["rm", "-f", "-v", ...left]);
      }
    });
  };

  containerTest(
    "resolveImage() gives the image id, the psql inside, and refuses unknown images",
    async (fx) => {
      const { image } = fx;
      assert.equal(image.runtime, engine);
      assert.equal(image.imageId, TEST_IMAGE);
      const id = (await engineCommand(engine, ["image", "inspect", "--format", "{{.Id}}", TEST_IMAGE])).stdout
        .trim();
      assert.equal(image.resolvedId, id.startsWith("sha256:") ? id : `sha256:${id}`);
      assert.equal(image.storeDir, containerStoreDir(image.resolvedId, image.major));
      assert.match(image.toolIdentity, /^psql \(PostgreSQL\) \d+/);
      await assert.rejects(
        // A loopback registry that is not there: the pull fails at once, and no lookup leaves the machine.
        fx.runtime.resolveImage("localhost:1/sqlrs-no-such-image:1"),
        (e) =>
          e instanceof SqlrsError && e.code === "invalid_argument" && /build-pg-image\.sh/.test(e.message),
      );
      assert.equal((await fx.runtime.probe()).available, true);
    },
  );

  containerTest(
    "initBase() makes a cluster owned by the image's postgres with SCRAM for the network",
    async (fx) => {
      const info = await Deno.stat(fx.base);
      const uid = Number((await engineCommand(engine, [
        "run",
        "--rm",
        "--entrypoint",
        "id",
        ...(
          engine === "podman" ? ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"] : []
        ),
        TEST_IMAGE,
        "-u",
        "postgres",
      ])).stdout.trim());
      assert.equal(info.uid, uid);
      assert.equal((info.mode ?? 0) & 0o777, 0o700);
      assert.equal((await Deno.readTextFile(join(fx.base, "PG_VERSION"))).trim(), String(fx.image.major));
      assert.match(
        await Deno.readTextFile(join(fx.base, "pg_hba.conf")),
        /^host all all 0\.0\.0\.0\/0 scram-sha-256$/m,
      );
    },
  );

  containerTest(
    "start() labels its container and mounts the work dirs; tools exec in it there; stop() removes it",
    async (fx) => {
      const { runtime } = fx;
      const { volume, dataDir, runDir } = await cloneOf(engine);
      const scripts = join(fx.root, "scripts");
      await Deno.mkdir(join(scripts, "lib"), { recursive: true });
      await Deno.writeTextFile(join(scripts, "lib", "inc.sql"), "create table inc as select 7 as v;\n");
      await Deno.writeTextFile(join(scripts, "main.sql"), "\\i lib/inc.sql\n");
      const server = await runtime.start(fx.image, volume, { runDir, mounts: [scripts, "/"] });
      try {
        assert.equal(server.runtime, engine);
        assert.equal(server.dataDir, dataDir);
        assert.deepEqual(server.mounts, [scripts]);
        assert.equal(await runtime.isRunning(server), true);
        const labels = (await engineCommand(engine, [
          "container",
          "inspect",
          "--format",
          '{{index .Config.Labels "sqlrs.engine"}} {{index .Config.Labels "sqlrs.data-dir"}}',
          server.runtimeId,
        ])).stdout.trim();
        assert.equal(labels, `1 ${dataDir}`);

        // A script with a relative \i, run in the mounted work dir: exec in the server container.
        const viaFile = await tool(fx, server, "psql", [
          "-X",
          "-v",
          "ON_ERROR_STOP=1",
          "-f",
          join(scripts, "main.sql"),
        ], {
          cwd: scripts,
        });
        assert.equal(viaFile.code, 0, viaFile.stderr);
        assert.equal((await psql(fx, server, "select v from inc")).stdout, "7");
        // Only the server's container: the tool ran in it.
        assert.deepEqual(await containersUnder(engine, dataDir), [server.runtimeId]);
      } finally {
        await runtime.stop(server);
      }
      assert.deepEqual(await containersUnder(engine, dataDir), []);
    },
  );

  containerTest(
    "spawnTool() in a work dir the server cannot see runs a tool container that mounts it",
    async (fx) => {
      const { volume, runDir } = await cloneOf(engine);
      const server = await fx.runtime.start(fx.image, volume, { runDir });
      try {
        const work = join(fx.root, `work-${clones}`);
        await Deno.mkdir(work);
        await Deno.writeTextFile(join(work, "inc.sql"), "select 'from ' || 'include';\n");
        await Deno.writeTextFile(join(work, "bench.sql"), "select 1;\n");
        const viaStdin = await tool(fx, server, "psql", ["-X", "-A", "-t", "-f", "-"], {
          cwd: work,
          stdin: "\\i inc.sql\n",
        });
        assert.equal(viaStdin.stdout, "from include", viaStdin.stderr);
        const init = await tool(fx, server, "pgbench", ["-i", "-s", "1", "-q"], { cwd: work });
        assert.equal(init.code, 0, init.stderr);
        const bench = await tool(fx, server, "pgbench", ["-n", "-t", "5", "-f", "bench.sql"], { cwd: work });
        assert.equal(bench.code, 0, bench.stderr);
        assert.match(bench.stdout, /number of transactions actually processed: 5/);
        // Tool containers are gone once they exit; only the server's remains.
        assert.deepEqual(await containersUnder(engine, fx.root), [server.runtimeId]);
      } finally {
        await fx.runtime.stop(server);
      }
    },
  );

  containerTest("aborting a tool ends its query inside the container", async (fx) => {
    const { volume, runDir } = await cloneOf(engine);
    const server = await fx.runtime.start(fx.image, volume, { runDir, mounts: [fx.root] });
    try {
      const controller = new AbortController();
      const child = fx.runtime.spawnTool(fx.image, server, "psql", ["-X", "-c", "select pg_sleep(60)"], {
        cwd: fx.root,
        signal: controller.signal,
      });
      const drained = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
      const count = "select count(*) from pg_stat_activity where query like 'select pg_sleep%'";
      const deadline = Date.now() + 20_000;
      while ((await psql(fx, server, count)).stdout !== "1" && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal((await psql(fx, server, count)).stdout, "1");
      controller.abort();
      await child.status;
      await drained;
      let left = "1";
      while (left !== "0" && Date.now() < deadline) {
        left = (await psql(fx, server, count)).stdout;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(left, "0", "the backend was terminated");
    } finally {
      await fx.runtime.stop(server);
    }
  });

  containerTest("a removed container is not running; start() recreates it on the same data", async (fx) => {
    const { volume, dataDir, runDir } = await cloneOf(engine);
    const first = await fx.runtime.start(fx.image, volume, { runDir });
    assert.equal((await psql(fx, first, "create table kept as select 5 as v")).code, 0);
    // As `docker rm -f` does: SIGKILL (podman's rm -f would first stop it cleanly).
    await engineCommand(engine, ["rm", "-f", ...(engine === "podman" ? ["-t", "0"] : []), first.runtimeId]);
    assert.equal(await fx.runtime.isRunning(first), false);
    assert.equal(await exists(join(dataDir, "postmaster.pid")), true, "a killed server leaves its pid file");
    const second = await fx.runtime.start(fx.image, volume, { runDir });
    try {
      assert.notEqual(second.runtimeId, first.runtimeId);
      assert.equal((await psql(fx, second, "select v from kept")).stdout, "5");
      await assert.rejects(
        fx.runtime.start(fx.image, volume, { runDir }),
        (e) => e instanceof SqlrsError && e.code === "conflict",
      );
    } finally {
      await fx.runtime.stop(second);
    }
  });

  containerTest(
    "an image laid out like the official postgres images (entrypoint, uid 999, VOLUME) works",
    async (fx) => {
      const tag = `sqlrs-test/official-like-${engine}:${Date.now()}`;
      const context = await Deno.makeTempDir({ prefix: "sqlrs-official-like-" });
      try {
        const base = (await engineCommand(engine, ["image", "inspect", "--format", "{{.Id}}", TEST_IMAGE]))
          .stdout.trim();
        await Deno.writeTextFile(
          join(context, "Dockerfile"),
          [
            `FROM ${base}`,
            "USER root",
            "RUN usermod -u 999 postgres && groupmod -g 999 postgres && chown -R 999:999 /var/lib/postgresql /run/postgresql",
            "RUN printf '#!/bin/sh\\necho entrypoint must not run >&2\\nexit 1\\n' > /usr/local/bin/docker-entrypoint.sh && chmod +x /usr/local/bin/docker-entrypoint.sh",
            "ENV PGDATA=/var/lib/postgresql/data",
            'VOLUME ["/var/lib/postgresql/data"]',
            'ENTRYPOINT ["docker-entrypoint.sh"]',
            'CMD ["postgres"]',
            "",
          ].join("\n"),
        );
        const built = await engineCommand(engine, [
          "build",
          "-q",
          ...(engine === "podman" ? ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"] : []),
          "-t",
          tag,
          context,
        ]);
        assert.equal(built.code, 0, built.stderr);
        const image = await fx.runtime.resolveImage(tag);
        assert.notEqual(image.storeDir, fx.image.storeDir);
        const base999 = await statefs.createEmpty(join(fx.root, `official-base-${engine}`));
        await fx.runtime.initBase(image, base999);
        assert.equal((await Deno.stat(base999.path)).uid, 999);
        const { volume, runDir } = await cloneOf(engine, base999.path);
        const volumesBefore = (await engineCommand(engine, ["volume", "ls", "-q"])).stdout;
        const server = await fx.runtime.start(image, volume, { runDir });
        try {
          const result = await tool({ ...fx, image }, server, "psql", ["-X", "-A", "-t", "-c", "select 1"]);
          assert.equal(result.stdout, "1", result.stderr);
        } finally {
          await fx.runtime.stop(server);
        }
        const volumesAfter = (await engineCommand(engine, ["volume", "ls", "-q"])).stdout;
        assert.equal(volumesAfter, volumesBefore, "no anonymous volume for the image's VOLUME");
      } finally {
        await Deno.remove(context, { recursive: true });
        await engineCommand(engine, ["rmi", "-f", tag]);
      }
    },
  );
}
