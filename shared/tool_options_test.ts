import assert from "node:assert/strict";
import { renderToken, takesNextArg, tokenize } from "./tool_options.ts";

const render = (tool: "psql" | "pgbench", args: string[]) => tokenize(tool, args).flatMap(renderToken);

Deno.test("tokenize() reads clusters, glued values and long options as getopt_long() does", () => {
  assert.deepEqual(render("psql", ["-Atf", "rel.sql"]), ["-A", "-t", "-f", "rel.sql"]);
  assert.deepEqual(render("psql", ["-qXfa.sql", "-vX=1", "--set", "Y=2", "--csv"]), [
    "-q",
    "-X",
    "-f",
    "a.sql",
    "-v",
    "X=1",
    "-v",
    "Y=2",
    "--csv",
  ]);
  assert.deepEqual(render("psql", ["--", "-c"]), ["-c"], "after -- everything is positional");
  const [file] = tokenize("psql", ["--file=x.sql"]);
  assert.equal(file?.kind === "option" && file.option.name, "file");
  assert.equal(file?.kind === "option" && file.value, "x.sql");
});

Deno.test("tokenize() keeps unknown options, positionals and a missing value visible", () => {
  assert.deepEqual(tokenize("psql", ["-Zq"]), [{ kind: "unknown", spelled: "-Zq", name: "-Z" }]);
  assert.deepEqual(tokenize("psql", ["db"]), [{ kind: "positional", value: "db" }]);
  const [last] = tokenize("psql", ["-f"]);
  assert.equal(last?.kind === "option" && last.value, null);
  // A value given to a long option that takes none stays attached for the tool to refuse.
  assert.deepEqual(render("psql", ["--quiet=yes"]), ["--quiet=yes"]);
});

Deno.test("pgbench's grammar is its own: -d is --debug, -c takes the client count", () => {
  assert.deepEqual(render("pgbench", ["-nc", "4", "-d", "db"]), ["-n", "-c", "4", "-d", "db"]);
  const [debug] = tokenize("pgbench", ["-d"]);
  assert.equal(debug?.kind === "option" && debug.option.name, "debug");
});

Deno.test("takesNextArg() tells whether an argv element consumes the next one", () => {
  for (const arg of ["-f", "--file", "-Atc", "-v"]) assert.equal(takesNextArg("psql", arg), true, arg);
  for (const arg of ["-fx.sql", "--file=x.sql", "-At", "run:psql", "--image", "-"]) {
    assert.equal(takesNextArg("psql", arg), false, arg);
  }
});
