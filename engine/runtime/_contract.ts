/**
 * The contract every runtime must pass, as Deno tests against the real thing (a PostgreSQL install,
 * a docker or podman daemon). A test file calls {@link runRuntimeContract} once per runtime; the cases
 * share one base made by `initBase` and start servers on clones of it, volumes handed over by the copy
 * StateFS as the engine's are.
 *
 * Runtime-specific behaviour (socket paths, containers, labels, build discovery) stays in the
 * runtime's own tests.
 *
 * @module
 */

import { deepStrictEqual, match, notStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { SqlrsError } from "../../shared/errors.ts";
import { run } from "../exec.ts";
import type { ResolvedImage, Runtime, ServerHandle, ToolOptions } from "./types.ts";
import { createCopyStateFS } from "../statefs/copy.ts";
import type { StateFS, Volume } from "../statefs/types.ts";
import { createInstanceRole } from "../instances/credentials.ts";

/** What the contract runs against. */
export interface RuntimeContractOptions {
  /**
   * Registers one case (default `Deno.test`); a test file whose runtime may be missing here passes one
   * that registers the case as ignored, or failing under CI, without it.
   */
  register?(definition: Deno.TestDefinition): void;
  /** A fresh runtime (each call a new one, as a restarted engine has). */
  create(): Runtime;
  /** The image every case runs (undefined: the runtime's default build). */
  imageId: string | undefined;
  /** Ids of what the runtime left for data dirs under `dir` (containers, running or not). */
  leftovers?(dir: string): Promise<string[]>;
  /** Removes what {@link leftovers} lists, after every case whatever it did. */
  removeLeftovers?(dir: string): Promise<void>;
}

/** A password with the characters a DSN must escape. */
const PASSWORD = "p@ss:w/rd %1";

interface Fixture {
  runtime: Runtime;
  image: ResolvedImage;
  root: string;
  statefs: StateFS;
  base: Volume;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

function hasCode(code: string, pattern?: RegExp): (error: unknown) => boolean {
  return (error) =>
    error instanceof SqlrsError && error.code === code &&
    (pattern === undefined || pattern.test(error.message));
}

/** psql on this machine, connecting by DSN as any client would. */
function clientPsql(dsn: string, sql: string) {
  return run(["psql", dsn, "-X", "-w", "-A", "-t", "-c", sql], {
    env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" },
  });
}

/**
 * Registers the contract's Deno tests for one runtime; `name` prefixes every test name.
 *
 * @param options how to make the runtime, the image, and why it cannot be tested here
 */
export function runRuntimeContract(name: string, options: RuntimeContractOptions): void {
  let fixture: Promise<Fixture> | undefined;
  let root: string | undefined;
  let clones = 0;

  globalThis.addEventListener("unload", () => {
    if (root !== undefined) Deno.removeSync(root, { recursive: true });
  });

  function setup(): Promise<Fixture> {
    fixture ??= (async () => {
      root = await Deno.makeTempDir({ prefix: "sqlrs-runtime-contract-" });
      // makeTempDir makes a 0700 directory the server user could not pass through.
      await Deno.chmod(root, 0o755);
      const runtime = options.create();
      const image = await runtime.resolveImage(options.imageId);
      const statefs = createCopyStateFS();
      const base = await statefs.createEmpty(join(root, "base"));
      await runtime.initBase(image, base);
      return { runtime, image, root, statefs, base };
    })();
    return fixture;
  }

  /** A clone of `src` (the base by default), its data directory, and a run dir for it. */
  async function cloneOf(src?: string): Promise<{ volume: Volume; dataDir: string; runDir: string }> {
    const fx = await setup();
    const n = ++clones;
    const volume = await fx.statefs.clone(src ?? fx.base.path, join(fx.root, `clone-${n}`));
    return { volume, dataDir: volume.path, runDir: join(fx.root, `run-${n}`) };
  }

  /** A directory for scripts that no server mounts. */
  async function workDir(files: Record<string, string>): Promise<string> {
    const fx = await setup();
    const dir = join(fx.root, `work-${++clones}`);
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(join(dir, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, path), text);
    }
    return dir;
  }

  async function query(fx: Fixture, server: ServerHandle, sql: string, tool: Partial<ToolOptions> = {}) {
    const result = await fx.runtime.exec(fx.image, server, "psql", [
      "-X",
      "-A",
      "-t",
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      sql,
    ], { cwd: "/", ...tool });
    strictEqual(result.code, 0, result.stderr);
    return result.stdout.trim();
  }

  function contractTest(title: string, fn: (fx: Fixture) => Promise<void>): void {
    (options.register ?? Deno.test)({
      name: `${name}: ${title}`,
      async fn() {
        const fx = await setup();
        try {
          await fn(fx);
        } finally {
          await options.removeLeftovers?.(fx.root);
        }
      },
    });
  }

  contractTest(
    "resolveImage() names a build; initBase() guards its directory; TCP asks for SCRAM",
    async (fx) => {
      const { runtime, image } = fx;
      strictEqual(image.runtime, runtime.name);
      ok(image.major >= 10, `major ${image.major}`);
      match(image.toolIdentity, /^psql \(PostgreSQL\) \d+/);
      ok(image.storeDir.length > 0);
      strictEqual((await Deno.readTextFile(join(fx.base.path, "PG_VERSION"))).trim(), String(image.major));
      strictEqual((await Deno.stat(fx.base.path)).mode! & 0o777, 0o700);
      await rejects(runtime.initBase(image, fx.base), hasCode("internal_error", /not empty/));
      const hba = await Deno.readTextFile(join(fx.base.path, "pg_hba.conf"));
      match(hba, /^host all all 0\.0\.0\.0\/0 scram-sha-256$/m);
      ok(!/^host.*trust/m.test(hba), "no TCP client is trusted");
      strictEqual((await runtime.probe()).available, true);
    },
  );

  contractTest(
    "start() serves exec() and the DSN once ready; stop() is clean and idempotent",
    async (fx) => {
      const { runtime, image } = fx;
      const { volume, dataDir, runDir } = await cloneOf();
      const server = await runtime.start(image, volume, { runDir });
      try {
        strictEqual(server.runtime, runtime.name);
        strictEqual(server.dataDir, dataDir);
        strictEqual(await runtime.isRunning(server), true);
        strictEqual(await query(fx, server, "select 1"), "1", "ready means it accepts connections");
        strictEqual(
          await query(fx, server, "select current_database()", { database: "template1" }),
          "template1",
        );
        const failed = await runtime.exec(image, server, "psql", [
          "-X",
          "-v",
          "ON_ERROR_STOP=1",
          "-c",
          "select 1/0",
        ], {
          cwd: "/",
        });
        strictEqual(failed.code, 1, "exec() returns a failed tool's exit code");
        match(failed.stderr, /division by zero/);

        // postgres has no password: its DSN opens nothing; an instance's role does.
        notStrictEqual((await clientPsql(runtime.dsn(server), "select 1")).code, 0);
        const role = await createInstanceRole(server, { user: "sqlrs_t", password: PASSWORD });
        const dsn = runtime.dsn(role);
        const host = server.host ?? "127.0.0.1";
        strictEqual(dsn, `postgres://sqlrs_t:p%40ss%3Aw%2Frd%20%251@${host}:${server.port}/postgres`);
        strictEqual(runtime.dsn(role, "a b"), dsn.replace(/\/postgres$/, "/a%20b"));
        const viaDsn = await clientPsql(dsn, "select current_user");
        strictEqual(viaDsn.code, 0, viaDsn.stderr);
        strictEqual(viaDsn.stdout.trim(), "sqlrs_t");
        const wrong = await clientPsql(dsn.replace("p%40ss", "nope"), "select 1");
        match(wrong.stderr, /password authentication failed/);
      } finally {
        await runtime.stop(server);
      }
      strictEqual(await runtime.isRunning(server), false);
      strictEqual(await exists(join(dataDir, "postmaster.pid")), false);
      await runtime.stop(server);
      const log = await Deno.readTextFile(server.logFile);
      match(log, /database system is shut down/);
      ok(!/immediate shutdown|terminating any other active server processes/.test(log), log);
    },
  );

  contractTest(
    "a restart keeps its port and data; a clone of a stopped server starts without recovery",
    async (fx) => {
      const { runtime, image } = fx;
      const first = await cloneOf();
      const server = await runtime.start(image, first.volume, { runDir: first.runDir });
      let restarted: ServerHandle | undefined;
      try {
        await query(fx, server, "create table t as select 42 as v");
        await runtime.stop(server);
        restarted = await runtime.start(image, first.volume, {
          runDir: first.runDir,
          port: server.port,
        });
        strictEqual(restarted.port, server.port, "a restart keeps the port its DSN names");
        strictEqual(runtime.dsn(restarted), runtime.dsn(server));
        strictEqual(await query(fx, restarted, "select v from t"), "42");
      } finally {
        await runtime.stop(restarted ?? server);
      }
      const second = await cloneOf(first.dataDir);
      const copy = await runtime.start(image, second.volume, { runDir: second.runDir });
      try {
        strictEqual(await query(fx, copy, "select v from t"), "42");
      } finally {
        await runtime.stop(copy);
      }
      const log = await Deno.readTextFile(copy.logFile);
      ok(!/not properly shut down|automatic recovery/.test(log), log);
      match(log, /database system was shut down at/);
    },
  );

  contractTest("start() moves to a free port when the one asked for is taken", async (fx) => {
    const { runtime, image } = fx;
    const { volume, runDir } = await cloneOf();
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (taken.addr as Deno.NetAddr).port;
    try {
      const server = await runtime.start(image, volume, { runDir, port });
      try {
        notStrictEqual(server.port, port);
        const role = await createInstanceRole(server, { user: "sqlrs_t", password: PASSWORD });
        strictEqual((await clientPsql(runtime.dsn(role), "select 5")).stdout.trim(), "5");
      } finally {
        await runtime.stop(server);
      }
    } finally {
      taken.close();
    }
  });

  contractTest(
    "psql and pgbench open files relative to the work dir, with bundled short options",
    async (fx) => {
      const { runtime, image } = fx;
      const work = await workDir({
        "rel.sql": "\\i lib/inc.sql\nselect 'rel ' || v from inc;\n",
        "lib/inc.sql": "create temp table inc as select 7 as v;\n",
        "bench.sql": "select 1;\n",
      });
      for (const mounts of [[], [work]]) {
        const { volume, runDir } = await cloneOf();
        const server = await runtime.start(image, volume, { runDir, mounts });
        try {
          const what = mounts.length === 0 ? "a work dir the server does not see" : "a mounted work dir";
          const bundled = await runtime.exec(image, server, "psql", ["-X", "-Atf", "rel.sql"], { cwd: work });
          strictEqual(bundled.code, 0, `${what}: ${bundled.stderr}`);
          strictEqual(bundled.stdout, "SELECT 1\nrel 7\n", `${what}: -A -t -f, read as psql reads them`);
          const viaStdin = await runtime.exec(image, server, "psql", ["-X", "-qAt", "-f", "-"], {
            cwd: work,
            stdin: "\\i rel.sql\n",
          });
          strictEqual(viaStdin.stdout, "rel 7\n", `${what}: ${viaStdin.stderr}`);
          const init = await runtime.exec(image, server, "pgbench", ["-i", "-s", "1", "-q"], { cwd: work });
          strictEqual(init.code, 0, `${what}: ${init.stderr}`);
          const bench = await runtime.exec(image, server, "pgbench", ["-n", "-t", "5", "-f", "bench.sql"], {
            cwd: work,
          });
          strictEqual(bench.code, 0, `${what}: ${bench.stderr}`);
          match(bench.stdout, /number of transactions actually processed: 5/);
        } finally {
          await runtime.stop(server);
        }
      }
    },
  );

  contractTest(
    "start() ignores a stale postmaster.pid and refuses a second start on a running data dir",
    async (fx) => {
      const { runtime, image } = fx;
      const { volume, dataDir, runDir } = await cloneOf();
      // As after a reboot or in a snapshot of a running cluster: pid 1 is alive but no postmaster of ours.
      await Deno.writeTextFile(
        join(dataDir, "postmaster.pid"),
        `1\n${dataDir}\n1700000000\n5432\n/tmp\n*\n0 0\nready   \n`,
      );
      const server = await runtime.start(image, volume, { runDir });
      try {
        notStrictEqual(server.runtimeId, "1");
        strictEqual(await query(fx, server, "select 3"), "3");
        await rejects(
          runtime.start(image, volume, { runDir: `${runDir}-2` }),
          hasCode("conflict"),
        );
        strictEqual(await runtime.isRunning(server), true, "the refused start left the server alone");
      } finally {
        await runtime.stop(server);
      }
    },
  );

  contractTest("start() fails with the tail of the server log and leaves no server", async (fx) => {
    const { runtime, image } = fx;
    const { volume, dataDir, runDir } = await cloneOf();
    await Deno.writeTextFile(join(dataDir, "postgresql.conf"), "shared_buffers = 'plenty'\n", {
      append: true,
    });
    await rejects(
      runtime.start(image, volume, { runDir }),
      hasCode("internal_error", /shared_buffers/),
    );
    deepStrictEqual(await options.create().stopStrays(dataDir, () => false), []);
    deepStrictEqual(await options.leftovers?.(dataDir) ?? [], []);
    const aborted = new AbortController();
    aborted.abort();
    await rejects(
      runtime.start(image, volume, { runDir, signal: aborted.signal }),
      hasCode("cancelled"),
    );
  });

  contractTest(
    "stopStrays() of a fresh runtime stops the servers under a root, except those kept",
    async (fx) => {
      const { runtime, image } = fx;
      const stray = await cloneOf();
      const kept = await cloneOf();
      const strayServer = await runtime.start(image, stray.volume, { runDir: stray.runDir });
      const keptServer = await runtime.start(image, kept.volume, { runDir: kept.runDir });
      try {
        const stopped = await options.create().stopStrays(fx.root, (dir) => dir === kept.dataDir);
        deepStrictEqual(stopped, [stray.dataDir]);
        strictEqual(await runtime.isRunning(strayServer), false);
        strictEqual(await exists(join(stray.dataDir, "postmaster.pid")), false, "stopped cleanly");
        strictEqual(await runtime.isRunning(keptServer), true);
      } finally {
        await runtime.stop(keptServer);
        await runtime.stop(strayServer);
      }
    },
  );
}
