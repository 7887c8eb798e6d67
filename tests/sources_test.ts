/**
 * Uploaded sources (`SQLRS_UPLOAD_SOURCES=1`): the CLI sends what a prepare reads, only what the
 * engine lacks, resuming a broken upload; the engine plans and runs against its copies. Real
 * PostgreSQL on the host runtime, copy backend.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import * as sqlrs from "../mod.ts";
import { hostPsql } from "./_prepare_suite.ts";
import { CLI, REPO, type Sandbox, waitFor } from "./_sandbox.ts";
import { need, testNeeding } from "./_needs.ts";
import { liquibaseAvailable } from "./_liquibase.ts";
import { sandboxOn } from "./_stores.ts";

const UPLOAD = { SQLRS_UPLOAD_SOURCES: "1" };

interface Uploaded {
  job_id: string;
  instance_id: string;
  state_id: string;
  dsn: string;
  uploaded?: { files: number; bytes: number };
}

async function prepareJson(
  sandbox: Sandbox,
  cwd: string,
  args: string[],
  env: Record<string, string> = UPLOAD,
): Promise<Uploaded> {
  const result = await sandbox.cliOk(["--output", "json", "prepare:psql", "--", ...args], { cwd, env });
  return JSON.parse(result.stdout);
}

/** A project: a.sql, b.sql (which `\ir`-includes inc/rows.sql and `\copy`s data.csv). */
async function writeProject(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {
    "a.sql": "create table t(id int, label text);\n",
    "b.sql": "\\ir inc/rows.sql\n\\copy t from 'data.csv' with (format csv)\n",
    "inc/rows.sql": "insert into t values (1, 'one');\n",
    "data.csv": "2,two\n3,three\n",
  };
  await Deno.mkdir(join(dir, "inc"), { recursive: true });
  for (const [path, text] of Object.entries(files)) await Deno.writeTextFile(join(dir, path), text);
  return files;
}

function bytesOf(...texts: string[]): number {
  return texts.reduce((sum, text) => sum + new TextEncoder().encode(text).byteLength, 0);
}

async function rows(dsn: string): Promise<string> {
  const result = await hostPsql(dsn, "select string_agg(id || ':' || label, ',' order by id) from t");
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

Deno.test("sources: a prepare uploads its files, then only what changed, and keys as a local one", async () => {
  await using sandbox = await sandboxOn("copy");
  const project = join(sandbox.dir, "project");
  const files = await writeProject(project);
  const args = ["-f", "a.sql", "-f", "b.sql"];

  const first = await prepareJson(sandbox, project, args);
  assert.deepEqual(first.uploaded, { files: 4, bytes: bytesOf(...Object.values(files)) });
  assert.equal(await rows(first.dsn), "1:one,2:two,3:three");

  const again = await prepareJson(sandbox, project, args);
  assert.deepEqual(again.uploaded, { files: 0, bytes: 0 });
  assert.equal(again.state_id, first.state_id);
  const human = await sandbox.cliOk(["prepare:psql", "--", ...args], { cwd: project, env: UPLOAD });
  assert.match(human.stderr, /uploaded 0 file\(s\), 0 bytes/);
  assert.match(human.stdout, /^DSN=/);

  const edited = "insert into t values (1, 'uno');\n";
  await Deno.writeTextFile(join(project, "inc/rows.sql"), edited);
  const third = await prepareJson(sandbox, project, args);
  assert.deepEqual(third.uploaded, { files: 1, bytes: bytesOf(edited) });
  assert.notEqual(third.state_id, first.state_id);
  assert.equal(await rows(third.dsn), "1:uno,2:two,3:three");

  // State keys hash content, not paths: the engine reading the files itself makes the same state.
  const local = await prepareJson(sandbox, project, args, { SQLRS_UPLOAD_SOURCES: "" });
  assert.equal(local.uploaded, undefined);
  assert.equal(local.state_id, third.state_id);

  // A file the client does not have either fails as in local mode, naming the client's path.
  await Deno.writeTextFile(join(project, "c.sql"), "\\ir missing.sql\n");
  const missing = await sandbox.cli(["prepare:psql", "--", "-f", "c.sql"], { cwd: project, env: UPLOAD });
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(
    missing.stderr,
    new RegExp(`Cannot include "missing.sql" from "${join(project, "c.sql")}": file not found`),
  );
  assert.doesNotMatch(missing.stderr, /sources\/trees/);

  // A failing step is named, and psql's message quoted, with the client's paths.
  await Deno.writeTextFile(join(project, "d.sql"), "select * from no_such_table;\n");
  const failed = await sandbox.cli(["prepare:psql", "--", "-f", "a.sql", "-f", "d.sql"], {
    cwd: project,
    env: UPLOAD,
  });
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stderr, /Step 2 of 2 \(d\.sql\) failed/);
  assert.match(failed.stderr, new RegExp(`${join(project, "d.sql")}:1: ERROR`));
  assert.doesNotMatch(failed.stderr, /sources\/trees/);
});

Deno.test("sources: the engine plans and runs from its copies once the files are gone", async () => {
  await using sandbox = await sandboxOn("copy");
  const project = join(sandbox.dir, "project");
  const files = await writeProject(project);
  await sandbox.cliOk(["status"]); // the engine starts outside the project, which goes away
  await prepareJson(sandbox, project, ["-f", "a.sql", "-f", "b.sql"]);
  await Deno.remove(project, { recursive: true });

  // The same content under paths that never existed on this machine: only the blobs can serve it.
  const gone = join(sandbox.dir, "never-here");
  const manifest = Object.fromEntries(
    Object.entries(files).map((
      [path, text],
    ) => [join(gone, path), createHash("sha256").update(text).digest("hex")]),
  );
  using client = await sandbox.client();
  const { source_id, missing } = await client.registerSources({ files: manifest });
  assert.deepEqual(missing, []);
  // A first step of its own, so that every step runs again instead of coming from the cache.
  const accepted = await client.submitPrepareAs({
    prepare_kind: "psql",
    psql_args: ["-c", "select 1", "-f", join(gone, "a.sql"), "-f", join(gone, "b.sql")],
    work_dir: gone,
    source_id,
  });
  const watched = await sandbox.cliOk(["--output", "json", "watch", accepted.job_id]);
  assert.equal(await rows(JSON.parse(watched.stdout).dsn), "1:one,2:two,3:three");
});

Deno.test("sources: an interrupted upload resumes where it stopped", async () => {
  await using sandbox = await sandboxOn("copy");
  const project = join(sandbox.dir, "project");
  await Deno.mkdir(project);
  await Deno.writeTextFile(
    join(project, "load.sql"),
    "create table big(v text);\n\\copy big from 'big.csv'\n",
  );
  const line = new TextEncoder().encode(`${"x".repeat(1023)}\n`);
  const megabyte = new Uint8Array(1024 * 1024);
  for (let i = 0; i < 1024; i++) megabyte.set(line, i * 1024);
  const size = 200 * megabyte.byteLength;
  {
    using big = await Deno.open(join(project, "big.csv"), { create: true, write: true });
    for (let i = 0; i < 200; i++) await big.write(megabyte);
  }
  await sandbox.cliOk(["status"]); // the engine runs before the upload is timed

  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, "--output", "json", "plan:psql", "--", "-f", "load.sql"],
    cwd: project,
    env: { ...sandbox.env, ...UPLOAD },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const partial = join(sandbox.storeRoot, "sources", "partial");
  const started = await waitFor(async () => {
    try {
      for await (const entry of Deno.readDir(partial)) {
        // A third of big.csv in (load.sql, a few bytes, has a partial file for an instant too).
        if ((await Deno.stat(join(partial, entry.name))).size > 64 * 1024 * 1024) return true;
      }
    } catch {
      // not made yet
    }
    return false;
  }, 60_000);
  child.kill("SIGKILL");
  await child.status;
  assert.ok(started, "the upload of big.csv never started");

  const rerun = await sandbox.cliOk(["--output", "json", "plan:psql", "--", "-f", "load.sql"], {
    cwd: project,
    env: UPLOAD,
  });
  const uploaded = JSON.parse(rerun.stdout).uploaded;
  assert.equal(uploaded.files, 1);
  assert.ok(uploaded.bytes > 0 && uploaded.bytes < size, `uploaded ${uploaded.bytes} of ${size} bytes`);
});

/** An HTTPS server on loopback with a certificate of a throwaway CA (its PEM file trusts it). */
async function httpsServer(
  dir: string,
  files: Record<string, string>,
): Promise<{ origin: string; certFile: string } & AsyncDisposable> {
  const file = (name: string) => join(dir, name);
  await Deno.writeTextFile(file("leaf.ext"), "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n");
  const steps = [
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=sqlrs test CA"]
      .concat(["-keyout", file("ca.key"), "-out", file("ca.pem")]),
    ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", file("key.pem")]
      .concat(["-out", file("leaf.csr")]),
    ["x509", "-req", "-in", file("leaf.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key")]
      .concat(["-CAcreateserial", "-days", "1", "-extfile", file("leaf.ext"), "-out", file("cert.pem")]),
  ];
  for (const args of steps) {
    const openssl = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
    assert.ok(openssl.success, new TextDecoder().decode(openssl.stderr));
  }
  const certFile = file("ca.pem");
  const keyFile = file("key.pem");
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(file("cert.pem")),
    key: await Deno.readTextFile(keyFile),
    onListen: () => {},
  }, (request) => {
    const body = files[new URL(request.url).pathname];
    return body === undefined ? new Response("no such file", { status: 404 }) : new Response(body);
  });
  return {
    origin: `https://localhost:${server.addr.port}`,
    certFile,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("sources: -f https://… is fetched by the engine and keyed by its content", async () => {
  await using sandbox = await sandboxOn("copy");
  const project = join(sandbox.dir, "project");
  const files = await writeProject(project);
  await using server = await httpsServer(sandbox.dir, {
    "/schema/a.sql": files["a.sql"] as string,
    "/query.sql": "select count(*) from t;\n",
  });
  const env = { DENO_CERT: server.certFile };
  const url = `${server.origin}/schema/a.sql`;

  const fetched = await prepareJson(sandbox, project, ["-f", url, "-f", "b.sql"], env);
  assert.equal(await rows(fetched.dsn), "1:one,2:two,3:three");
  // The same bytes from a local file are the same state.
  const local = await prepareJson(sandbox, project, ["-f", "a.sql", "-f", "b.sql"], env);
  assert.equal(local.state_id, fetched.state_id);
  // Uploading: the URL is not uploaded, the local files are.
  const uploading = await prepareJson(sandbox, project, ["-f", url, "-f", "b.sql"], { ...env, ...UPLOAD });
  assert.equal(uploading.state_id, fetched.state_id);
  assert.deepEqual(uploading.uploaded, {
    files: 3,
    bytes: bytesOf(files["b.sql"] as string, files["inc/rows.sql"] as string, files["data.csv"] as string),
  });

  // A run's script may be a URL too (the client fetches it: a run sends its scripts as text).
  const query = `${server.origin}/query.sql`;
  const ran = await sandbox.cliOk(["run:psql", "--instance", fetched.instance_id, "--", "-At", "-f", query], {
    cwd: project,
    env,
  });
  assert.equal(ran.stdout, "3\n");

  const missing = await sandbox.cli(["prepare:psql", "--", "-f", `${server.origin}/nothing.sql`], {
    cwd: project,
    env,
  });
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /answered 404/);
  const plain = await sandbox.cli(["prepare:psql", "--", "-f", "http://localhost:1/a.sql"], {
    cwd: project,
    env,
  });
  assert.equal(plain.code, 2, plain.stderr);
  assert.match(plain.stderr, /only https:\/\/ URLs/);
});

testNeeding(
  need(await liquibaseAvailable(), "Liquibase and Java (scripts/install-liquibase.sh)"),
  "sources: a Liquibase prepare uploads its changelog tree and makes the states a local one makes",
  async () => {
    await using sandbox = await sandboxOn("copy");
    const project = join(sandbox.dir, "project");
    const example = join(REPO, "examples", "liquibase");
    let bytes = 0;
    for (
      const path of [
        "README.md",
        "changelog.xml",
        ...["001-customers.yaml", "002-orders.sql", "003-demo-data.json"].map((name) => `changes/${name}`),
      ]
    ) {
      await Deno.mkdir(join(project, "changes"), { recursive: true });
      await Deno.copyFile(join(example, path), join(project, path));
      bytes += (await Deno.stat(join(project, path))).size;
    }
    const args = ["--output", "json", "prepare:lb", "--", "update", "--changelog-file", "changelog.xml"];

    const uploaded: Uploaded = JSON.parse((await sandbox.cliOk(args, { cwd: project, env: UPLOAD })).stdout);
    assert.deepEqual(uploaded.uploaded, { files: 5, bytes });
    const applied = await hostPsql(uploaded.dsn, "select count(*) from databasechangelog");
    assert.ok(Number(applied.stdout) >= 3, applied.stdout);
    const again: Uploaded = JSON.parse((await sandbox.cliOk(args, { cwd: project, env: UPLOAD })).stdout);
    assert.deepEqual(again.uploaded, { files: 0, bytes: 0 });
    assert.equal(again.state_id, uploaded.state_id);

    const local: Uploaded = JSON.parse((await sandbox.cliOk(args, { cwd: project })).stdout);
    assert.equal(local.state_id, uploaded.state_id);
  },
);

Deno.test("sources: mod.ts prepare() and plan() with uploadSources say what they uploaded", async () => {
  await using sandbox = await sandboxOn("copy");
  const project = join(sandbox.dir, "project");
  const files = await writeProject(project);
  const options = {
    env: sandbox.env,
    cwd: project,
    uploadSources: true,
    psql: ["-f", "a.sql", "-f", "b.sql"],
  };
  {
    await using db = await sqlrs.prepare(options);
    assert.deepEqual(db.uploaded, { files: 4, bytes: bytesOf(...Object.values(files)) });
    assert.equal(await rows(db.dsn), "1:one,2:two,3:three");
  }
  assert.deepEqual((await sqlrs.plan(options)).uploaded, { files: 0, bytes: 0 });
  assert.equal((await sqlrs.plan({ ...options, uploadSources: false })).uploaded, undefined);
});

Deno.test("sources: a prepare whose work dir holds none of its files runs in that dir", async () => {
  await using sandbox = await sandboxOn("copy");
  const project = join(sandbox.dir, "project");
  await writeProject(project);
  const sub = join(project, "sub");
  await Deno.mkdir(sub);
  const commandOnly = await prepareJson(sandbox, sub, ["-c", "create table t(id int, label text)"]);
  assert.deepEqual(commandOnly.uploaded, { files: 0, bytes: 0 });
  const parent = await prepareJson(sandbox, sub, ["-f", "../a.sql", "-c", "insert into t values (1, 'one')"]);
  assert.deepEqual(parent.uploaded, { files: 1, bytes: bytesOf("create table t(id int, label text);\n") });
  assert.equal(await rows(parent.dsn), "1:one");
});
