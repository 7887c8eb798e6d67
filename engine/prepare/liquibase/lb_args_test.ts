import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { applyArgs, contextOptions, parseLiquibaseArgs, planArgs } from "./lb_args.ts";
import { parseProperties } from "./lb_defaults_file.ts";
import { isBadInput } from "../_bad_input.ts";

/** A temp dir holding the given files (parents created); removed after `body`. */
function withDir(files: Record<string, string>, body: (dir: string) => void): void {
  const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sqlrs-lb-args-" }));
  try {
    for (const [path, text] of Object.entries(files)) {
      Deno.mkdirSync(dirname(join(dir, path)), { recursive: true });
      Deno.writeTextFileSync(join(dir, path), text);
    }
    body(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const PROJECT = {
  "db/changelog.xml": "<databaseChangeLog/>",
  "db/more.yaml": "databaseChangeLog: []\n",
  "lib/extra.sql": "--liquibase formatted sql\n",
};

Deno.test("parseLiquibaseArgs() accepts update with --opt value and --opt=value spellings", () => {
  withDir(PROJECT, (dir) => {
    const a = parseLiquibaseArgs(
      ["update", "--changelog-file", "db/changelog.xml", "--contexts=prod", "--labels", "core", "-Dtbl=t1"],
      dir,
    );
    assert.equal(a.command, "update");
    assert.equal(a.count, null);
    assert.equal(a.changelogFile, join(dir, "db/changelog.xml"));
    assert.equal(a.changelogArg, "db/changelog.xml");
    assert.equal(a.contexts, "prod");
    assert.equal(a.labels, "core");
    assert.deepEqual(a.searchPath, []);
    assert.equal(a.defaultsFile, null);
    assert.deepEqual(a.passthrough, ["-Dtbl=t1"]);
    // Contexts and labels are keyed per changeset where they matter, not for every step.
    assert.deepEqual(a.keyedOptions, ["-Dtbl=t1"]);
    assert.deepEqual(contextOptions(a), ["--context-filter=prod", "--label-filter=core"]);
    assert.deepEqual(a.files, [join(dir, "db/changelog.xml")]);
    assert.deepEqual(a.roots, [dir]);
    assert.deepEqual(planArgs(a), [
      "--log-level=FINE",
      "update-sql",
      "--changelog-file=db/changelog.xml",
      "--context-filter=prod",
      "--label-filter=core",
      "-Dtbl=t1",
    ]);
    assert.deepEqual(applyArgs(a, 3), [
      "update-count",
      "--changelog-file=db/changelog.xml",
      "--context-filter=prod",
      "--label-filter=core",
      "-Dtbl=t1",
      "--count=3",
    ]);
  });
});

Deno.test("parseLiquibaseArgs() takes options before the command and camelCase spellings", () => {
  withDir(PROJECT, (dir) => {
    const a = parseLiquibaseArgs(
      ["--changeLogFile=./db/../db/changelog.xml", "--logLevel", "info", "updateCount", "--count", "2"],
      dir,
    );
    assert.equal(a.command, "update-count");
    assert.equal(a.count, 2);
    assert.equal(a.changelogArg, "db/changelog.xml");
    assert.deepEqual(a.globalOptions, ["--log-level=info"]);
    assert.deepEqual(a.keyedOptions, [], "cosmetic options are not keyed");
    // Planning logs at FINE whatever the user asked: it names the changelogs Liquibase parsed.
    assert.deepEqual(planArgs(a), [
      "--log-level=FINE",
      "update-count-sql",
      "--changelog-file=db/changelog.xml",
      "--count=2",
    ]);
    assert.deepEqual(applyArgs(a, 1).slice(0, 2), ["--log-level=info", "update-count"]);
  });
});

Deno.test("parseLiquibaseArgs() handles update-to-tag and keeps --show-summary out of the plan", () => {
  withDir(PROJECT, (dir) => {
    const a = parseLiquibaseArgs(
      ["update-to-tag", "--tag", "v1", "--changelog-file", "db/changelog.xml", "--show-summary=verbose"],
      dir,
    );
    assert.equal(a.tag, "v1");
    assert.deepEqual(planArgs(a), [
      "--log-level=FINE",
      "update-to-tag-sql",
      "--changelog-file=db/changelog.xml",
      "--tag=v1",
    ]);
    assert.deepEqual(applyArgs(a, 1), [
      "update-count",
      "--changelog-file=db/changelog.xml",
      "--show-summary=verbose",
      "--count=1",
    ]);
  });
});

Deno.test("parseLiquibaseArgs() resolves the changelog in the search path and keeps its spelling", () => {
  withDir(PROJECT, (dir) => {
    const a = parseLiquibaseArgs(
      ["update", "--search-path", "lib, db,classpath:/changes", "--changelog-file=changelog.xml"],
      dir,
    );
    assert.deepEqual(a.searchPath, [join(dir, "lib"), join(dir, "db"), "classpath:/changes"]);
    assert.equal(a.changelogFile, join(dir, "db/changelog.xml"));
    assert.equal(a.changelogArg, "changelog.xml");
    assert.deepEqual(a.roots, [join(dir, "lib"), join(dir, "db")]);
    // Only regular files: the search path's directories are roots, not files (hashing them failed).
    assert.deepEqual(a.files, [join(dir, "db/changelog.xml")]);
    assert.deepEqual(planArgs(a).slice(0, 3), [
      `--search-path=${join(dir, "lib")},${join(dir, "db")},classpath:/changes`,
      "--log-level=FINE",
      "update-sql",
    ]);
    // The legacy spelling works too; an absolute changelog becomes relative to its search root.
    const b = parseLiquibaseArgs(
      ["update", "--searchPath=db", `--changelog-file=${join(dir, "db/changelog.xml")}`],
      dir,
    );
    assert.equal(b.changelogArg, "changelog.xml");
    const c = parseLiquibaseArgs(["update", `--changelog-file=${join(dir, "db/changelog.xml")}`], dir);
    assert.equal(c.changelogArg, "db/changelog.xml");
  });
});

Deno.test("parseLiquibaseArgs() leaves classpath: and URL references alone", () => {
  withDir(PROJECT, (dir) => {
    const a = parseLiquibaseArgs(["update", "--changelog-file=classpath:db/changelog.xml"], dir);
    assert.equal(a.changelogFile, "classpath:db/changelog.xml");
    assert.equal(a.changelogArg, "classpath:db/changelog.xml");
    assert.deepEqual(a.files, []);
    const b = parseLiquibaseArgs(
      ["update", "--search-path=https://example.org/cl", "--changelog-file=x.xml"],
      dir,
    );
    assert.deepEqual(b.searchPath, ["https://example.org/cl"]);
    assert.equal(b.changelogArg, "x.xml");
  });
});

Deno.test("parseLiquibaseArgs() refuses connection, credential, system classpath and driver options by name", () => {
  withDir(PROJECT, (dir) => {
    const cl = "--changelog-file=db/changelog.xml";
    const cases: Array<[string[], RegExp]> = [
      [["update", cl, "--url=jdbc:postgresql://elsewhere/db"], /--url is not allowed: sqlrs connects/],
      [["update", cl, "--url", "jdbc:postgresql://elsewhere/db"], /--url is not allowed/],
      [["update", cl, "--username", "bob"], /--username is not allowed/],
      [["--password=secret", "update", cl], /--password is not allowed/],
      [["update", cl, "--include-system-classpath=true"], /--include-system-classpath is not allowed/],
      [["update", cl, "--driver=org.postgresql.Driver"], /--driver is not allowed/],
      [["update", cl, "--driver-properties-file=x"], /--driver-properties-file is not allowed/],
      [["update", cl, "--reference-url=jdbc:x"], /--reference-url is not allowed/],
      [["update", cl, "--referenceDefaultSchemaName=x"], /--referenceDefaultSchemaName is not allowed/],
      [["update", cl, "--database-class=x.Y"], /--database-class is not allowed: it loads Java code/],
      [["update", cl, "--change-exec-listener-class=x.Y"], /--change-exec-listener-class is not allowed/],
      [["update", cl, "--output-file=/tmp/x.sql"], /--output-file is not allowed: it writes files/],
      [["update", cl, "--log-file", "/tmp/lb.log"], /--log-file is not allowed/],
      [["update", cl, "--database-changelog-table-name=x"], /--database-changelog-table-name is not allowed/],
      [["update", cl, "--hub-mode=all"], /--hub-mode is not allowed/],
      [["update", cl, "--psql-path=/bin/sh"], /--psql-path is not allowed/],
      [["update", cl, "--license-key=x"], /--license-key is not allowed/],
      [["update", cl, "--help"], /--help is not allowed/],
      [["-v"], /-v is not allowed/],
      [["update", cl, "--no-such-option=1"], /Unknown or unsupported Liquibase option --no-such-option/],
      [["update", cl, "-x"], /Unknown Liquibase option -x/],
    ];
    for (const [args, pattern] of cases) {
      assert.throws(() => parseLiquibaseArgs(args, dir), isBadInput(pattern), args.join(" "));
    }
  });
});

Deno.test("parseLiquibaseArgs() allows only the update family", () => {
  withDir(PROJECT, (dir) => {
    const cl = "--changelog-file=db/changelog.xml";
    const cases: Array<[string[], RegExp]> = [
      [["rollback-count", cl, "--count=1"], /command "rollback-count" is not supported/],
      [["drop-all", cl], /command "drop-all" is not supported/],
      [["update-sql", cl], /"update-sql" is not supported.*plan:lb/],
      [["updateSQL", cl], /plan:lb/],
      [["update-testing-rollback", cl], /not supported/],
      [["status", cl], /not supported/],
      [[cl], /Missing the Liquibase command/],
      [["update", "extra", cl], /Unexpected Liquibase argument "extra"/],
      [["update-count", cl], /update-count needs --count/],
      [["update-count", cl, "--count=0"], /--count must be a positive integer/],
      [["update-count", cl, "--count=x"], /--count must be a positive integer/],
      [["update", cl, "--count=1"], /--count is only for update-count/],
      [["update-to-tag", cl], /update-to-tag needs --tag/],
      [["update", cl, "--tag=v1"], /--tag is only for update-to-tag/],
      [["update", cl, "--contexts=a", "--context-filter=b"], /--context-filter is given twice/],
      [["update", cl, "-Da=1", "-Da=2"], /-Da is given twice/],
      [["update", cl, "--contexts"], /--contexts needs a value/],
    ];
    for (const [args, pattern] of cases) {
      assert.throws(() => parseLiquibaseArgs(args, dir), isBadInput(pattern), args.join(" "));
    }
  });
});

Deno.test("parseLiquibaseArgs() names missing paths", () => {
  withDir(PROJECT, (dir) => {
    const cases: Array<[string[], RegExp]> = [
      [["update"], /Missing --changelog-file/],
      [
        ["update", "--changelog-file", "db/nope.xml"],
        /changelog db\/nope.xml does not exist \(looked for .*db\/nope\.xml\)/,
      ],
      [
        ["update", "--search-path=db", "--changelog-file=db/changelog.xml"],
        /does not exist \(looked for .*db\/db\//,
      ],
      [
        ["update", "--search-path=db,missing", "--changelog-file=changelog.xml"],
        /--search-path entry missing does not exist/,
      ],
      [["update", "--changelog-file=/etc/hosts"], /\/etc\/hosts is outside the search path/],
      [
        ["update", "--defaults-file=nope.properties", "--changelog-file=db/changelog.xml"],
        /defaults file nope.properties does not exist/,
      ],
    ];
    for (const [args, pattern] of cases) {
      assert.throws(() => parseLiquibaseArgs(args, dir), isBadInput(pattern), args.join(" "));
    }
    assert.throws(() => parseLiquibaseArgs(["update"], "relative/dir"), isBadInput(/must be absolute/));
  });
});

Deno.test("parseLiquibaseArgs() reads the defaults file: values, refusals, content key", () => {
  const defaults = [
    "# a typical liquibase.properties",
    "changeLogFile: db/changelog.xml",
    "liquibase.command.contexts=dev",
    "url=jdbc:postgresql://prod.example.org/app",
    "username: app",
    "password = hunter2",
    "driver: org.postgresql.Driver",
    "parameter.tbl=t1",
  ].join("\n");
  withDir(
    { ...PROJECT, "liquibase.properties": defaults, "bad.properties": "driver=com.evil.Driver\n" },
    (dir) => {
      // liquibase.properties in the work dir is read without --defaults-file, like Liquibase does.
      const a = parseLiquibaseArgs(["update"], dir);
      assert.equal(a.defaultsFile, join(dir, "liquibase.properties"));
      assert.equal(a.changelogArg, "db/changelog.xml");
      assert.equal(a.contexts, "dev");
      assert.ok(a.keyedOptions.some((option) => /^defaults-file-sha256=[0-9a-f]{64}$/.test(option)));
      assert.deepEqual(a.files, [join(dir, "liquibase.properties"), join(dir, "db/changelog.xml")]);
      assert.deepEqual(planArgs(a).slice(0, 3), [
        `--defaults-file=${join(dir, "liquibase.properties")}`,
        "--log-level=FINE",
        "update-sql",
      ]);
      // The command line wins over the file.
      const b = parseLiquibaseArgs(["update", "--contexts=prod"], dir);
      assert.equal(b.contexts, "prod");
      assert.throws(
        () =>
          parseLiquibaseArgs([
            "update",
            "--defaults-file",
            "bad.properties",
            "--changelog-file=db/changelog.xml",
          ], dir),
        isBadInput(/bad\.properties sets driver, which sqlrs refuses/),
      );
    },
  );
  withDir(
    { ...PROJECT, "liquibase.properties": "liquibase.command.update.driver=com.evil.Driver\n" },
    (dir) => {
      assert.throws(
        () => parseLiquibaseArgs(["update", "--changelog-file=db/changelog.xml"], dir),
        isBadInput(/sets liquibase\.command\.update\.driver/),
      );
    },
  );
});

Deno.test("parseProperties() follows the Java properties format", () => {
  const props = parseProperties(
    "a=1\n  b : two words\n! comment\n# comment\nc three\nd=long \\\n   value\ne\\:f=x\n",
  );
  assert.deepEqual([...props], [["a", "1"], ["b", "two words"], ["c", "three"], ["d", "long value"], [
    "e:f",
    "x",
  ]]);
});

Deno.test("parseLiquibaseArgs() takes --classpath entries (jars, directories) and refuses missing ones", () => {
  withDir({ ...PROJECT, "lib/custom.jar": "jar", "classes/x.class": "class" }, (dir) => {
    const a = parseLiquibaseArgs([
      "update",
      "--changelog-file=db/changelog.xml",
      "--classpath",
      "lib/custom.jar:classes",
    ], dir);
    assert.deepEqual(a.classpath, [join(dir, "lib/custom.jar"), join(dir, "classes")]);
    assert.deepEqual(applyArgs(a, 1).slice(0, 2), [
      `--classpath=${join(dir, "lib/custom.jar")}:${join(dir, "classes")}`,
      "update-count",
    ]);
    assert.throws(
      () => parseLiquibaseArgs(["update", "--changelog-file=db/changelog.xml", "--classpath=nope.jar"], dir),
      isBadInput(/--classpath entry nope\.jar does not exist/),
    );
  });
});
