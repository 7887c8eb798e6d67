/**
 * The ways sqlrs is distributed, exercised for real: `deno task check` (types, lint, format),
 * `deno publish --dry-run` (no slow types), the command `deno install -g` puts on PATH, the single-file
 * bundle under `deno run` (including the engine it starts from itself), shell completions in bash, zsh
 * and fish, the JSDoc examples of `mod.ts` and the example test in `examples/`, both in a sandbox, and
 * sources safe for `deno compile`.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { VERSION } from "../shared/version.ts";
import { CLI, REPO, runProgram, Sandbox } from "./_sandbox.ts";
import { need, testNeeding } from "./_needs.ts";

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (in the repository unless told otherwise). */
function exec(
  program: string,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: string } = {},
): Promise<Output> {
  return runProgram(program, args, {
    cwd: options.cwd ?? REPO,
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", ...options.env },
    ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
  });
}

async function execOk(program: string, args: readonly string[], options: Parameters<typeof exec>[2] = {}) {
  const result = await exec(program, args, options);
  assert.equal(
    result.code,
    0,
    `${program} ${args.join(" ")}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
  );
  return result;
}

/** Whether a program is on PATH. */
async function have(program: string): Promise<boolean> {
  try {
    return (await exec("sh", ["-c", `command -v ${program}`])).code === 0;
  } catch {
    return false;
  }
}

/** The command line of a live process. */
function cmdline(pid: number): string {
  return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").join(" ");
}

Deno.test("deno publish --dry-run passes: no slow types, license, the three exports, no tests", async () => {
  // --allow-dirty: a working tree with uncommitted changes; a clean CI clone does not need it.
  const result = await execOk(Deno.execPath(), ["publish", "--dry-run", "--allow-dirty"]);
  const text = result.stdout + result.stderr;
  assert.match(text, /Checking for slow types in the public API/);
  assert.match(text, /Success Dry run complete/);
  for (const file of ["mod.ts", "shared/schemas.ts", "cli/main.ts", "engine/main.ts", "deno.json"]) {
    assert.ok(text.includes(`${pathToFileURL(join(REPO, file)).href} `), `${file} is published`);
  }
  assert.doesNotMatch(
    text,
    /file:\/\/\/\S*\/(tests|bench|examples)\//,
    "tests, benchmarks, examples stay out",
  );
  assert.doesNotMatch(text, /_test\.ts /);
  const config = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json")));
  assert.deepEqual(Object.keys(config.exports).sort(), [".", "./cli", "./schemas"]);
  assert.equal(typeof config.license, "string");
  assert.ok(
    !JSON.stringify(config.lint ?? {}).includes("no-slow-types"),
    "the lint rule no-slow-types is on",
  );
});

Deno.test("deno task check passes: every entry point, test and bench type-checks, lints and is formatted", async () => {
  // execOk asserts the exit code, and shows what failed.
  await execOk(Deno.execPath(), ["task", "check"]);
});

Deno.test("deno install -g gives a sqlrs command whose --version and status work from anywhere", async () => {
  await using sandbox = await Sandbox.create();
  const root = join(sandbox.dir, "install");
  // From outside the repository: a local install needs --config (a JSR install brings its own).
  await execOk(
    Deno.execPath(),
    ["install", "-g", "-A", "-n", "sqlrs", "--root", root, "--config", join(REPO, "deno.json"), CLI],
    { cwd: sandbox.dir },
  );
  const sqlrs = join(root, "bin", "sqlrs");
  assert.equal((await Deno.stat(sqlrs)).mode! & 0o111, 0o111, "the command is executable");
  // The shim runs `deno`, which must be on PATH.
  const env = { ...sandbox.env, PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}` };
  const version = await execOk(sqlrs, ["--version"], { cwd: sandbox.dir, env });
  assert.equal(version.stdout.trim(), VERSION);
  const status = JSON.parse(
    (await execOk(sqlrs, ["--output", "json", "status"], { cwd: sandbox.dir, env })).stdout,
  );
  assert.equal(status.ok, true);
  assert.equal(status.state_dir, sandbox.stateDir);
  assert.match(cmdline(status.pid), /cli\/main\.ts engine serve/, "the engine is started through the CLI");
});

Deno.test("deno task bundle gives a single file that runs --version, status and a prepare under deno run", async () => {
  await execOk(Deno.execPath(), ["task", "bundle"]);
  await using sandbox = await Sandbox.create();
  // Copied away from the repository: nothing beside the file (no deno.json, no sources) is used.
  const bundle = join(sandbox.dir, "sqlrs.js");
  await Deno.copyFile(join(REPO, "dist", "sqlrs.js"), bundle);
  const run = (args: string[]) =>
    exec(Deno.execPath(), ["run", "-A", "--quiet", bundle, ...args], {
      cwd: sandbox.dir,
      env: sandbox.env,
    });
  const version = await run(["--version"]);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), VERSION);
  const status = await run(["--output", "json", "status"]);
  assert.equal(status.code, 0, status.stderr);
  const pid = JSON.parse(status.stdout).pid;
  assert.match(cmdline(pid), /sqlrs\.js engine serve/, "the bundle starts the engine from itself");
  const query = await run([
    "prepare:psql",
    "--",
    "-c",
    "create table t as select 7 as n",
    "run:psql",
    "--",
    "-A",
    "-t",
    "-c",
    "select n from t",
  ]);
  assert.equal(query.code, 0, query.stderr);
  assert.equal(query.stdout, "7\n");
});

Deno.test("the sources stay compile-safe: every dynamic import has a literal specifier", async () => {
  const offenders: string[] = [];
  for (const dir of ["cli", "client", "engine", "shared"]) {
    for await (const path of walk(join(REPO, dir))) {
      if (!path.endsWith(".ts") || path.endsWith("_test.ts")) continue;
      const text = await Deno.readTextFile(path);
      for (const match of text.matchAll(/\bimport\(\s*([^)]*)\)/g)) {
        if (!/^(["'])[^"'`]+\1$/.test((match[1] ?? "").trim())) offenders.push(`${path}: ${match[0]}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile) yield path;
  }
}

// ---------------------------------------------------------------------------------------------------
// Completions

async function completionScript(shell: string): Promise<string> {
  const result = await execOk(Deno.execPath(), ["run", "-A", "--quiet", CLI, "completions", shell]);
  return result.stdout;
}

testNeeding(
  need(await have("bash"), "bash"),
  "completions bash completes commands (with colons), subcommands, options and choices",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "sqlrs-completions-" });
    try {
      await Deno.writeTextFile(join(dir, "sqlrs.bash"), await completionScript("bash"));
      const complete = async (line: string) =>
        (await execOk("bash", [
          "-c",
          `source "$1"; COMP_LINE="$2"; COMP_POINT=\${#2}; _sqlrs; printf '%s\\n' "\${COMPREPLY[@]}"`,
          "bash",
          join(dir, "sqlrs.bash"),
          line,
        ])).stdout.split("\n").filter((word) => word !== "");
      const top = await complete("sqlrs ");
      for (const command of ["prepare:psql", "run:psql", "ls", "rm", "status", "completions"]) {
        assert.ok(top.includes(command), `${command} in ${top.join(" ")}`);
      }
      assert.ok(!top.includes("serve"), "hidden commands stay hidden");
      assert.deepEqual(await complete("sqlrs config "), ["get", "set", "rm", "schema"]);
      assert.deepEqual(await complete("sqlrs --output json con"), ["config"]);
      // bash replaces only what follows the last ":" of the word.
      assert.deepEqual(await complete("sqlrs prepare:p"), ["psql"]);
      assert.deepEqual(await complete("sqlrs ls --al"), ["--all"]);
      assert.deepEqual(await complete("sqlrs completions "), ["bash", "zsh", "fish"]);
      assert.deepEqual(await complete("sqlrs prepare:psql -- -f "), [], "tool args: bash completes files");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

testNeeding(
  need(await have("zsh"), "zsh"),
  "completions zsh defines _sqlrs, which offers the right commands and options",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "sqlrs-completions-" });
    try {
      const script = join(dir, "_sqlrs");
      await Deno.writeTextFile(script, await completionScript("zsh"));
      await execOk("zsh", ["-n", script]);
      // Stand-ins for the completion system's functions: print what _sqlrs offers.
      const harness = `
compdef() { :; }
_describe() { local name=$4; print -rl -- "\${(@P)name}"; }
compadd() { print -rl -- "\${(@P)2}"; }
_files() { print -r -- "<files>"; }
source "$1"
words=("\${(@s: :)2}"); CURRENT=\${#words}
_sqlrs`;
      const complete = async (line: string) =>
        (await execOk("zsh", ["-c", harness, "zsh", script, line])).stdout.split("\n").filter((l) =>
          l !== ""
        );
      assert.ok(
        (await complete("sqlrs ")).includes(
          "prepare\\:psql:Build (or reuse) a state from psql scripts and start an instance of it",
        ),
      );
      assert.deepEqual((await complete("sqlrs config ")).map((entry) => entry.split(":")[0]), [
        "get",
        "set",
        "rm",
        "schema",
      ]);
      assert.ok((await complete("sqlrs rm -")).includes("--dry-run:show what would be deleted"));
      assert.deepEqual(await complete("sqlrs completions "), ["bash", "zsh", "fish"]);
      assert.deepEqual(await complete("sqlrs prepare:psql -- "), ["<files>"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

testNeeding(
  need(await have("fish"), "fish"),
  "completions fish gives complete rules that fish uses for commands, options and choices",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "sqlrs-completions-" });
    try {
      const script = join(dir, "sqlrs.fish");
      await Deno.writeTextFile(script, await completionScript("fish"));
      await execOk("fish", ["-n", script]);
      const complete = async (line: string) =>
        (await execOk("fish", ["-c", `source $argv[1]; complete -C $argv[2]`, script, line], {
          env: { HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir },
        })).stdout.split("\n").filter((l) => l !== "").map((l) => l.split("\t")[0]);
      assert.deepEqual(await complete("sqlrs config "), ["get", "rm", "schema", "set"]);
      assert.deepEqual(await complete("sqlrs prepare:"), ["prepare:lb", "prepare:psql"]);
      assert.deepEqual(await complete("sqlrs ls --al"), ["--all"]);
      assert.deepEqual(await complete("sqlrs completions "), ["bash", "fish", "zsh"]);
      assert.deepEqual(await complete("sqlrs --output json run:psql --ins"), ["--instance"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

// ---------------------------------------------------------------------------------------------------
// Examples

Deno.test("a test file outside the repository imports mod.ts by absolute path, with no import map or config", async () => {
  await using sandbox = await Sandbox.create();
  const outside = await Deno.makeTempDir({ prefix: "sqlrs-outside-" });
  try {
    await Deno.writeTextFile(
      join(outside, "db_test.ts"),
      `import * as sqlrs from ${JSON.stringify(pathToFileURL(join(REPO, "mod.ts")).href)};
Deno.test("a database from sqlrs", async () => {
  await using db = await sqlrs.prepare({ psql: ["-c", "create table t as select 41 as x"] });
  const out = await db.run({ psql: ["-A", "-t", "-c", "select x + 1 from t"] });
  if (out.stdout.trim() !== "42") throw new Error(out.stdout);
});
`,
    );
    const result = await exec(Deno.execPath(), ["test", "-A", "db_test.ts"], {
      cwd: outside,
      env: sandbox.env,
    });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /ok \| 1 passed \| 0 failed/);
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("examples/deno_test_example_test.ts passes with no setup besides its environment", async () => {
  await using sandbox = await Sandbox.create();
  const result = await exec(Deno.execPath(), ["test", "-A", "examples/deno_test_example_test.ts"], {
    env: sandbox.env,
  });
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /ok \| 3 passed \| 0 failed/);
});
