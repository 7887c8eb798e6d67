import assert from "node:assert/strict";
import { parseRunArgs } from "./run_args.ts";

Deno.test("parseRunArgs() takes the database out of -d, --dbname and a positional name", () => {
  assert.deepEqual(parseRunArgs("psql", ["-d", "chinook", "-c", "select 1"]), {
    args: ["-c", "select 1"],
    database: "chinook",
  });
  assert.deepEqual(parseRunArgs("psql", ["--dbname=chinook", "-X"]), { args: ["-X"], database: "chinook" });
  assert.deepEqual(parseRunArgs("psql", ["-dchinook"]), { args: [], database: "chinook" });
  assert.deepEqual(parseRunArgs("psql", ["-c", "select 1", "chinook"]), {
    args: ["-c", "select 1"],
    database: "chinook",
  });
  assert.deepEqual(parseRunArgs("pgbench", ["-c", "4", "-T", "5", "postgres"]), {
    args: ["-c", "4", "-T", "5"],
    database: "postgres",
  });
});

Deno.test("parseRunArgs() reads bundled short options as getopt does", () => {
  // Flags up to the first letter that takes a value; the value is the rest of the word or the next one.
  assert.deepEqual(parseRunArgs("psql", ["-d", "chinook", "-Atc", "select count(*) from track"]), {
    args: ["-A", "-t", "-c", "select count(*) from track"],
    database: "chinook",
  });
  assert.deepEqual(parseRunArgs("psql", ["-Atcselect 1"]), {
    args: ["-A", "-t", "-c", "select 1"],
    database: undefined,
  });
  assert.deepEqual(parseRunArgs("psql", ["-Atd", "chinook", "-c", "select 1"]), {
    args: ["-A", "-t", "-c", "select 1"],
    database: "chinook",
  });
  assert.deepEqual(parseRunArgs("psql", ["-qXf", "a.sql", "chinook"]), {
    args: ["-q", "-X", "-f", "a.sql"],
    database: "chinook",
  });
  assert.deepEqual(parseRunArgs("pgbench", ["-nc", "4", "db"]), { args: ["-n", "-c", "4"], database: "db" });
  // pgbench's -d is --debug, not a database.
  assert.deepEqual(parseRunArgs("pgbench", ["-d", "db"]), { args: ["-d"], database: "db" });
});

Deno.test("parseRunArgs() refuses connection options, also inside a bundle, and connection strings", () => {
  for (const args of [["-h", "x"], ["--port=5"], ["-AU", "me"], ["-tqh", "elsewhere"]]) {
    assert.throws(
      () => parseRunArgs("psql", args),
      /conflicts with the instance's connection/,
      args.join(" "),
    );
  }
  assert.throws(() => parseRunArgs("psql", ["-d", "postgres://u@h/db"]), /connection string/);
  assert.throws(() => parseRunArgs("psql", ["a", "b"]), /the database is already "a"/);
});
