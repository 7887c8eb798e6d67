/**
 * Credentials per instance, on real PostgreSQL on the host runtime, docker and podman: an instance's
 * DSN opens that instance and no other, `postgres` has no password that works over TCP, a restarted
 * instance keeps its DSN, and no role or password of an instance or a build reaches a cached state.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type CliResult, Sandbox, waitFor } from "./_sandbox.ts";
import { type ContainerEngine, containerNeed, TEST_IMAGE } from "./_containers.ts";
import { type Need, need, testNeeding } from "./_needs.ts";
import { findLiquibase } from "../engine/prepare/liquibase/lb_tool.ts";

interface Prepared {
  instance_id: string;
  state_id: string;
  dsn: string;
}

/** The host's psql on a DSN: never prompts for a password, gives up on connecting after 5 s. */
async function psqlOn(dsn: string, sql: string): Promise<CliResult> {
  const output = await new Deno.Command("psql", {
    args: [dsn, "-X", "-w", "-A", "-t", "-c", sql],
    env: { PGCONNECT_TIMEOUT: "5" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout).trim(),
    stderr: decoder.decode(output.stderr),
  };
}

/** `dsn` with another user, password or port. */
function withLogin(dsn: string, change: { user?: string; password?: string; port?: string }): string {
  const url = new URL(dsn);
  if (change.user !== undefined) url.username = encodeURIComponent(change.user);
  if (change.password !== undefined) url.password = encodeURIComponent(change.password);
  if (change.port !== undefined) url.port = change.port;
  return url.toString();
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

async function prepare(sandbox: Sandbox, image: string[], args: string[]): Promise<Prepared> {
  const result = await sandbox.cliOk(["--output", "json", "prepare:psql", ...image, "--", ...args]);
  return JSON.parse(result.stdout);
}

async function runtimeIdOf(sandbox: Sandbox, instanceId: string): Promise<string> {
  const listed = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--instances"])).stdout);
  return listed.instances.find((i: { instance_id: string }) => i.instance_id === instanceId).runtime_id;
}

/** Stops an instance's server behind the engine's back, as a reboot would. */
async function stopServer(sandbox: Sandbox, instanceId: string, runtime: ContainerEngine | undefined) {
  const runtimeId = await runtimeIdOf(sandbox, instanceId);
  if (runtime !== undefined) {
    const removed = await new Deno.Command(runtime, { args: ["rm", "-f", runtimeId], stdout: "null" })
      .output();
    assert.ok(removed.success);
    return;
  }
  const pid = Number(runtimeId);
  Deno.kill(pid, "SIGINT");
  assert.ok(await waitFor(() => Deno.stat(`/proc/${pid}`).then(() => false, () => true), 30_000));
}

function credentialTest(runtime: ContainerEngine | undefined, needs: Need[]) {
  const where = runtime ?? "host";
  testNeeding(
    needs,
    `credentials (${where}): an instance's DSN opens it and no other; postgres has no TCP password; a restart keeps the DSN`,
    async () => {
      await using sandbox = await Sandbox.create();
      const image = runtime === undefined ? [] : ["--image", TEST_IMAGE];
      if (runtime !== undefined) sandbox.env.SQLRS_CONTAINER_RUNTIME = runtime;

      const a = await prepare(sandbox, image, ["-c", "create table t as select 41 as v"]);
      const b = await prepare(sandbox, image, ["-c", "create table t as select 41 as v"]);
      assert.equal(a.state_id, b.state_id, "two instances of one state");
      assert.notEqual(a.instance_id, b.instance_id);
      const aUrl = new URL(a.dsn);
      const bUrl = new URL(b.dsn);
      assert.notEqual(aUrl.username, "postgres");
      assert.notEqual(aUrl.username, bUrl.username);
      assert.notEqual(aUrl.password, bUrl.password);
      assert.equal(aUrl.pathname, "/postgres", "the database name is unchanged");

      // A's DSN works on A, as a superuser (what the postgres DSN allowed).
      const onA = await psqlOn(
        a.dsn,
        "select current_user, v, (select rolsuper from pg_roles where rolname = current_user) from t",
      );
      assert.equal(onA.code, 0, onA.stderr);
      assert.equal(onA.stdout, `${decodeURIComponent(aUrl.username)}|41|t`);
      const extension = await psqlOn(a.dsn, "create extension pgcrypto");
      assert.equal(extension.code, 0, extension.stderr);

      // run:psql works on the instance as its role too (over the socket), so both own what they create.
      const viaRun = await sandbox.query(a.instance_id, "select current_user");
      assert.equal(viaRun.stdout, `${decodeURIComponent(aUrl.username)}\n`, viaRun.stderr);

      // A's user and password on B's port: refused.
      const crossed = await psqlOn(withLogin(a.dsn, { port: bUrl.port }), "select 1");
      assert.notEqual(crossed.code, 0);
      assert.match(crossed.stderr, /password authentication failed/);

      // The instance roles live in the instances, not in the state: B knows only its own.
      const roles = await psqlOn(
        b.dsn,
        "select string_agg(rolname, ',') from pg_roles where rolname like 'sqlrs%'",
      );
      assert.equal(roles.stdout, decodeURIComponent(bUrl.username));

      // postgres over TCP: no password works, on either instance.
      const guesses = [
        "",
        "postgres",
        randomHex(18),
        decodeURIComponent(aUrl.password),
        decodeURIComponent(bUrl.password),
      ];
      for (const port of [aUrl.port, bUrl.port]) {
        for (const password of guesses) {
          const superuser = await psqlOn(withLogin(a.dsn, { user: "postgres", password, port }), "select 1");
          assert.notEqual(superuser.code, 0, `postgres with password "${password}" on port ${port}`);
          assert.match(superuser.stderr, /password authentication failed|no password supplied/);
        }
      }

      // A restarted instance keeps its role and password: the DSN it was given still works.
      await stopServer(sandbox, a.instance_id, runtime);
      const restarted = await sandbox.query(a.instance_id, "select v from t", ["-v"]);
      assert.equal(restarted.code, 0, restarted.stderr);
      assert.match(restarted.stderr, /not running - restarting/);
      const listed = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--instances"])).stdout);
      const dsnNow =
        listed.instances.find((i: { instance_id: string }) => i.instance_id === a.instance_id).dsn;
      const again = await psqlOn(dsnNow, "select current_user, v from t");
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, `${decodeURIComponent(aUrl.username)}|41`);
      assert.equal(withLogin(dsnNow, { port: aUrl.port }), a.dsn, "same role and password");

      // The passwords are in no log (the DSN goes to its client only).
      const log = await Deno.readTextFile(join(sandbox.stateDir, "logs", "engine.log"));
      assert.match(log, new RegExp(`instance ${a.instance_id}`));
      for (const url of [aUrl, bUrl]) assert.ok(!log.includes(decodeURIComponent(url.password)));
    },
  );
}

credentialTest(undefined, []);
credentialTest("docker", [await containerNeed("docker")]);
credentialTest("podman", [await containerNeed("podman")]);

async function liquibaseAvailable(): Promise<boolean> {
  try {
    await findLiquibase(null);
    return true;
  } catch {
    return false;
  }
}

testNeeding(
  need(await liquibaseAvailable(), "Liquibase and Java (scripts/install-liquibase.sh)"),
  "credentials (host): a Liquibase build's password for postgres is gone from the state it keeps",
  async () => {
    await using sandbox = await Sandbox.create();
    await Deno.writeTextFile(
      `${sandbox.dir}/changelog.sql`,
      "--liquibase formatted sql\n--changeset t:1\ncreate table lb (v int);\n",
    );
    const result = await sandbox.cliOk([
      "--output",
      "json",
      "prepare:lb",
      "--",
      "update",
      "--changelog-file",
      "changelog.sql",
    ], { cwd: sandbox.dir });
    const prepared = JSON.parse(result.stdout) as Prepared;
    const authid = await sandbox.query(
      prepared.instance_id,
      "select rolname || '=' || coalesce(rolpassword, 'none') from pg_authid where rolname = 'postgres'",
    );
    assert.equal(authid.code, 0, authid.stderr);
    assert.equal(authid.stdout, "postgres=none\n");
    const table = await psqlOn(prepared.dsn, "select count(*) from lb");
    assert.equal(table.stdout, "0", table.stderr);
  },
);
