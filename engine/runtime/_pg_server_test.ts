import assert from "node:assert/strict";
import { acceptsConnections, connectionArgs, serverDsn } from "./_pg_server.ts";
import type { ServerHandle } from "./types.ts";

const handle: ServerHandle = {
  runtime: "host",
  runtimeId: "1",
  dataDir: "/d",
  port: 5433,
  socketDir: null,
  user: "sqlrs_t",
  password: "p@ss:w/rd %1",
  logFile: "/d/log",
};

Deno.test("serverDsn() carries the handle's role and password, escaped, and its address", () => {
  assert.equal(serverDsn(handle), "postgres://sqlrs_t:p%40ss%3Aw%2Frd%20%251@127.0.0.1:5433/postgres");
  assert.equal(
    serverDsn({ ...handle, host: "10.0.0.7" }, "a b"),
    "postgres://sqlrs_t:p%40ss%3Aw%2Frd%20%251@10.0.0.7:5433/a%20b",
  );
});

Deno.test("connectionArgs() gives psql the database with -d and pgbench as its last argument", () => {
  const target = { host: "/sock", port: 5432, user: "sqlrs_t" };
  assert.deepEqual(connectionArgs("psql", target, "db"), [
    "-h",
    "/sock",
    "-p",
    "5432",
    "-U",
    "sqlrs_t",
    "-d",
    "db",
  ]);
  assert.deepEqual(connectionArgs("pgbench", target, "db"), [
    "-h",
    "/sock",
    "-p",
    "5432",
    "-U",
    "sqlrs_t",
    "db",
  ]);
});

Deno.test("acceptsConnections() reads the status line of postmaster.pid", () => {
  const pidFile = (status: string) => ["42", "/d", "1700000000", "5432", "/sock", "*", "0 0", status];
  assert.equal(acceptsConnections(pidFile("ready   ")), true);
  assert.equal(acceptsConnections(pidFile("standby ")), true);
  assert.equal(acceptsConnections(pidFile("starting")), false);
  assert.equal(acceptsConnections(pidFile("stopping")), false);
  assert.equal(acceptsConnections(["42", "/d"]), false, "a pid file still being written");
  assert.equal(acceptsConnections(undefined), false);
});
