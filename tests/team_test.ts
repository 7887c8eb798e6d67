/**
 * A team engine end to end: `sqlrs engine serve` with real TLS (a self-signed certificate from
 * openssl) and a users file, run as an unprivileged user with its own store and the host runtime's
 * real PostgreSQL; clients reach it through profiles (`init remote`, `--profile`, `SQLRS_PROFILE`).
 * Needs root, to create that user.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO, runProgram, Sandbox, stopServersUnder, waitFor } from "./_sandbox.ts";
import { need, testNeeding } from "./_needs.ts";

const TEAM_USER = "sqlrs-test-team";

async function ok(program: string, args: string[]): Promise<string> {
  const result = await runProgram(program, args, { cwd: "/", env: {} });
  assert.equal(result.code, 0, `${program} ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

async function ensureTeamUser(): Promise<void> {
  const exists = await runProgram("id", ["-u", TEAM_USER], { cwd: "/", env: {} });
  if (exists.code === 0) return;
  const made = await runProgram("useradd", [
    "--system",
    "--no-create-home",
    "--shell",
    "/usr/sbin/nologin",
    TEAM_USER,
  ], {
    cwd: "/",
    env: {},
  });
  // 9: created meanwhile by a parallel test.
  assert.ok(made.code === 0 || made.code === 9, `useradd exited ${made.code}: ${made.stderr}`);
}

/**
 * Stops what the engine left running as the test's own user, by pid: rootless podman keeps a pause
 * process after the engine probed it (sqlrs status).
 */
async function stopProcessesOf(user: string): Promise<void> {
  const uid = (await ok("id", ["-u", user])).trim();
  const pids = [...Deno.readDirSync("/proc")].map((entry) => entry.name).filter((name) => {
    if (!/^\d+$/.test(name)) return false;
    try {
      return /^Uid:\s+(\d+)/m.exec(Deno.readTextFileSync(`/proc/${name}/status`))?.[1] === uid;
    } catch {
      return false; // exited meanwhile
    }
  });
  for (const pid of pids) {
    try {
      Deno.kill(Number(pid), "SIGTERM");
    } catch {
      // gone
    }
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** What the unprivileged user needs to run this checkout: a deno binary and the npm cache it uses. */
async function denoForTeamUser(dir: string): Promise<{ deno: string; denoDir: string }> {
  const deno = join(dir, "bin", "deno");
  await Deno.mkdir(join(dir, "bin"), { recursive: true });
  // The npx copy of deno lives under /root, which the user cannot enter: a link elsewhere can be run.
  await Deno.link(Deno.execPath(), deno).catch(() => Deno.copyFile(Deno.execPath(), deno));
  const denoDir = join(dir, "deno-dir");
  await Deno.mkdir(denoDir);
  const ownCache = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache", "deno");
  await ok("cp", ["-r", join(ownCache, "npm"), join(denoDir, "npm")]);
  return { deno, denoDir };
}

interface TeamEngine extends AsyncDisposable {
  url: string;
  /** The CA that signed its certificate (clients trust it with --ca-cert). */
  ca: string;
}

/** A test CA and a server certificate it signs for 127.0.0.1 (rustls refuses a CA as the server's). */
async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const [ca, caKey, cert, key, csr, ext] = [
    "ca.pem",
    "ca.key",
    "cert.pem",
    "key.pem",
    "server.csr",
    "ext.cnf",
  ]
    .map((name) => join(dir, name)) as [string, string, string, string, string, string];
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await ok("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    caKey,
    "-out",
    ca,
    "-days",
    "1",
    "-subj",
    "/CN=sqlrs test CA",
  ]);
  await ok("openssl", ["req", ...ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"]);
  await Deno.writeTextFile(
    ext,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
  );
  await ok("openssl", [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca,
    "-CAkey",
    caKey,
    "-CAcreateserial",
    "-out",
    cert,
    "-days",
    "1",
    "-extfile",
    ext,
  ]);
  return { ca, cert, key };
}

/** Starts `engine serve` as the unprivileged user on 127.0.0.1:<free port>, with TLS and the users file. */
async function startTeamEngine(dir: string, users: string): Promise<TeamEngine> {
  const { deno, denoDir } = await denoForTeamUser(dir);
  const { ca, cert, key } = await makeCertificates(dir);
  const home = join(dir, "engine-home");
  await Deno.mkdir(home);
  await ok("chown", ["-R", TEAM_USER, home, denoDir, key, users]);
  const port = freePort();
  const child = new Deno.Command("runuser", {
    args: [
      "-u",
      TEAM_USER,
      "--",
      "env",
      `HOME=${home}`,
      `DENO_DIR=${denoDir}`,
      `XDG_STATE_HOME=${join(home, "state")}`,
      `PATH=${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
      deno,
      "run",
      "-A",
      "--quiet",
      join(REPO, "cli", "main.ts"),
      "engine",
      "serve",
      "--listen",
      `127.0.0.1:${port}`,
      "--tls-cert",
      cert,
      "--tls-key",
      key,
      "--users",
      users,
    ],
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  const listening = await waitFor(() => stderr.includes("serving a team on"), 60_000);
  if (!listening) {
    child.kill("SIGTERM");
    await child.status;
    await reading;
    throw new Error(`the team engine did not start: ${stderr}`);
  }
  return {
    url: `https://127.0.0.1:${port}`,
    ca,
    async [Symbol.asyncDispose]() {
      // runuser passes SIGTERM on to the engine, which stops; instances keep running, so stop them.
      child.kill("SIGTERM");
      await child.status;
      await reading;
      await stopServersUnder(home);
      await stopProcessesOf(TEAM_USER);
    },
  };
}

/** The JSON `sqlrs --output json` printed. */
function json<T>(stdout: string): T {
  return JSON.parse(stdout) as T;
}

testNeeding(
  need(Deno.uid() === 0, "root (to run the engine as a second, unprivileged user)"),
  "a team engine serves its users over TLS: profiles, ownership, shared states, refusals",
  async (t) => {
    await ensureTeamUser();
    await using sandbox = await Sandbox.create();
    const users = join(sandbox.dir, "users.jsonl");
    const alice = (await sandbox.cliOk(["engine", "user", "add", "alice", "--users", users])).stdout.trim();
    const bob = (await sandbox.cliOk(["engine", "user", "add", "bob", "--users", users])).stdout.trim();
    const admin = (await sandbox.cliOk(["engine", "user", "add", "carol", "--users", users, "--admin"]))
      .stdout
      .trim();
    assert.match(alice, /^sqlrs_[0-9a-f]{64}$/);
    assert.doesNotMatch(
      await Deno.readTextFile(users),
      new RegExp(alice),
      "the users file keeps only hashes",
    );
    await using engine = await startTeamEngine(sandbox.dir, users);

    const tokenFile = async (name: string, token: string) => {
      const path = join(sandbox.dir, `${name}.token`);
      await Deno.writeTextFile(path, `${token}\n`);
      return path;
    };
    for (
      const [name, token] of [["alice", alice], ["bob", bob], ["carol", admin], [
        "wrong",
        `sqlrs_${"0".repeat(64)}`,
      ]]
    ) {
      await sandbox.cliOk([
        "init",
        "remote",
        name as string,
        "--url",
        engine.url,
        "--token-file",
        await tokenFile(name as string, token as string),
        "--ca-cert",
        engine.ca,
      ]);
    }
    // The project is the client's alone (0700, root's): the engine's user cannot read it, so every file
    // the prepare reads reaches the engine by upload, includes and \copy data found as it plans. Like psql,
    // \copy reads relative to the working directory (the sandbox's, where the CLI runs).
    const project = join(sandbox.dir, "project");
    await Deno.mkdir(join(project, "inc"), { recursive: true });
    await Deno.chmod(project, 0o700);
    await Deno.writeTextFile(join(project, "a.sql"), "create table t (x int);\n");
    await Deno.writeTextFile(
      join(project, "b.sql"),
      "\\ir inc/one.sql\n\\copy t from 'project/rows.csv' with csv\n",
    );
    await Deno.writeTextFile(join(project, "inc", "one.sql"), "insert into t values (1);\n");
    await Deno.writeTextFile(join(project, "rows.csv"), "2\n");
    const script = ["-f", join(project, "a.sql"), "-f", join(project, "b.sql")];
    const unreadable = await runProgram("runuser", ["-u", TEAM_USER, "--", "cat", join(project, "a.sql")], {
      cwd: "/",
      env: {},
    });
    assert.notEqual(unreadable.code, 0, "the engine's user cannot read the client's project");

    let aliceInstance = "";
    let aliceState = "";
    await t.step("status names the profile in use", async () => {
      const status = await sandbox.cliOk(["--profile", "alice", "status"]);
      assert.match(
        status.stdout,
        new RegExp(`target: +profile alice \\(${engine.url.replaceAll(".", "\\.")}\\)`),
      );
    });

    await t.step("a prepare through a profile gives a DSN the client connects to", async () => {
      const prepared = await sandbox.cliOk([
        "--profile",
        "alice",
        "--output",
        "json",
        "prepare:psql",
        "--",
        ...script,
      ]);
      const result = json<
        { instance_id: string; state_id: string; dsn: string; uploaded: { files: number } }
      >(
        prepared.stdout,
      );
      assert.equal(result.uploaded.files, 4, "a.sql, b.sql, inc/one.sql and rows.csv were uploaded");
      aliceInstance = result.instance_id;
      aliceState = result.state_id;
      const query = await runProgram("psql", [result.dsn, "-A", "-t", "-c", "select count(*) from t"], {
        cwd: "/",
        env: {},
      });
      assert.equal(query.code, 0, query.stderr);
      assert.equal(query.stdout.trim(), "2");
    });

    await t.step("mod.ts prepares and runs through a profile too", async () => {
      const sqlrs = await import("../mod.ts");
      const env = { XDG_CONFIG_HOME: sandbox.env.XDG_CONFIG_HOME as string };
      await using db = await sqlrs.prepare({ psql: script, profile: "alice", env, cwd: sandbox.dir });
      assert.equal(db.stateId, aliceState);
      const listed = (await sandbox.cliOk(["--profile", "alice", "--output", "json", "ls", "-i"])).stdout;
      assert.ok(listed.includes(db.instanceId), "the instance is the team engine's");
      const result = await db.run({ psql: ["-A", "-t", "-c", "select count(*) from t"] });
      assert.equal(result.stdout, "2\n", result.stderr);
    });

    await t.step("a wrong token is answered 401 and exits 3", async () => {
      const wrong = await sandbox.cli(["--profile", "wrong", "ls"]);
      assert.equal(wrong.code, 3, wrong.stderr);
      assert.match(wrong.stderr, /bearer token/);
      using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(engine.ca)] });
      const response = await fetch(`${engine.url}/v1/instances`, {
        client,
        headers: { authorization: `Bearer sqlrs_${"0".repeat(64)}` },
      });
      assert.equal(response.status, 401);
      await response.body?.cancel();
    });

    await t.step("plain HTTP is refused, by the engine and by init remote", async () => {
      await assert.rejects(fetch(`${engine.url.replace("https:", "http:")}/v1/health`));
      const http = await sandbox.cli([
        "init",
        "remote",
        "plain",
        "--url",
        engine.url.replace("https:", "http:"),
        "--token-file",
        "x",
      ]);
      assert.equal(http.code, 2, http.stderr);
    });

    await t.step("another user's instance is 404, and each user lists only their own", async () => {
      using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(engine.ca)] });
      const response = await fetch(`${engine.url}/v1/instances/${aliceInstance}`, {
        client,
        headers: { authorization: `Bearer ${bob}` },
      });
      assert.equal(response.status, 404);
      await response.body?.cancel();
      const run = await sandbox.cli([
        "--profile",
        "bob",
        "run:psql",
        "--instance",
        aliceInstance,
        "--",
        "-c",
        "select 1",
      ]);
      assert.equal(run.code, 2, run.stderr);
      const rm = await sandbox.cli(["--profile", "bob", "rm", "-f", aliceInstance]);
      assert.equal(rm.code, 2, rm.stderr);

      const prepared = await sandbox.cliOk([
        "--profile",
        "bob",
        "--output",
        "json",
        "prepare:psql",
        "--",
        ...script,
      ], {
        env: { SQLRS_PROFILE: "bob" },
      });
      const bobResult = json<{ instance_id: string; state_id: string }>(prepared.stdout);
      assert.equal(bobResult.state_id, aliceState, "bob reuses alice's state");
      const bobList = json<Array<{ instance_id: string }>>(
        (await sandbox.cliOk(["--output", "json", "ls", "-i"], { env: { SQLRS_PROFILE: "bob" } })).stdout,
      );
      assert.deepEqual(JSON.stringify(bobList).includes(aliceInstance), false);
      assert.ok(JSON.stringify(bobList).includes(bobResult.instance_id));
      const aliceList = (await sandbox.cliOk(["--profile", "alice", "--output", "json", "ls", "-i"])).stdout;
      assert.ok(aliceList.includes(aliceInstance) && !aliceList.includes(bobResult.instance_id));
      const adminList = (await sandbox.cliOk(["--profile", "carol", "--output", "json", "ls", "-i"])).stdout;
      assert.ok(
        adminList.includes(aliceInstance) && adminList.includes(bobResult.instance_id),
        "an admin sees all",
      );
      const config = await sandbox.cli(["--profile", "bob", "config", "set", "instances.ttl", '"1h"']);
      assert.equal(config.code, 4, `only an admin changes the engine's config: ${config.stderr}`);
      const prune = await sandbox.cli(["--profile", "bob", "prune", "--all", "--dry-run"]);
      assert.equal(prune.code, 4, `only an admin prunes the team's instances: ${prune.stderr}`);
      const adminPrune = await sandbox.cliOk([
        "--profile",
        "carol",
        "--output",
        "json",
        "prune",
        "--all",
        "--dry-run",
      ]);
      assert.ok(adminPrune.stdout.includes(aliceInstance), adminPrune.stdout);
    });

    await t.step("a cached state is shared: bob's plan of alice's script is all hits", async () => {
      const plan = await sandbox.cliOk([
        "--profile",
        "bob",
        "--output",
        "json",
        "plan:psql",
        "--",
        ...script,
      ]);
      const steps = json<{ tasks: Array<{ type: string; cached?: boolean; output_state_id?: string }> }>(
        plan.stdout,
      )
        .tasks.filter((task) => task.type === "state_execute");
      assert.ok(steps.length > 0 && steps.every((task) => task.cached === true), plan.stdout);
      assert.equal(steps.at(-1)?.output_state_id, aliceState);
      // The engine holds every file already (blobs are content-addressed): nothing is sent again.
      assert.equal(json<{ uploaded: { bytes: number } }>(plan.stdout).uploaded.bytes, 0, plan.stdout);
    });

    await t.step("psql escapes are refused at planning with exit 2", async () => {
      const data = join(sandbox.dir, "data.csv");
      await Deno.writeTextFile(data, "3\n");
      for (
        const sql of [
          "\\! id",
          "select 1 \\o |cat",
          "create table c (x int);\n\\copy c from program 'cat " + data + "'",
        ]
      ) {
        const refused = await sandbox.cli(["--profile", "alice", "prepare:psql", "--", "-c", sql]);
        assert.equal(refused.code, 2, `${sql}: ${refused.stderr}`);
        assert.match(refused.stderr, /on a team engine/, sql);
      }
      const run = await sandbox.cli([
        "--profile",
        "alice",
        "run:psql",
        "--instance",
        aliceInstance,
        "--",
        "-c",
        "\\! id",
      ]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /on a team engine/);
      // A file of the engine's host (here its users file, which it can read) is not an input.
      const own = await sandbox.cli(["--profile", "alice", "prepare:psql", "--", "-c", `\\i ${users}`]);
      assert.equal(own.code, 2, own.stderr);
      assert.match(own.stderr, /reads only the files a prepare uploaded/);
    });
  },
);

Deno.test("engine serve refuses a team as root, and a non-loopback address without TLS and users", async () => {
  await using sandbox = await Sandbox.create();
  const users = join(sandbox.dir, "users.jsonl");
  await sandbox.cliOk(["engine", "user", "add", "alice", "--users", users]);
  const open = await sandbox.cli(["engine", "serve", "--listen", "0.0.0.0:7443"]);
  assert.equal(open.code, 2, open.stderr);
  assert.match(open.stderr, /--tls-cert, --tls-key and --users/);
  if (Deno.uid() !== 0) return;
  const asRoot = await sandbox.cli([
    "engine",
    "serve",
    "--listen",
    "127.0.0.1:7443",
    "--tls-cert",
    "/nonexistent",
    "--tls-key",
    "/nonexistent",
    "--users",
    users,
  ]);
  assert.equal(asRoot.code, 2, asRoot.stderr);
  assert.match(asRoot.stderr, /Refusing to serve a team as root/);
});
