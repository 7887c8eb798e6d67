/**
 * Finding and running Liquibase.
 *
 * The executable comes from, in this order: the engine config's `liquibase.exec`, `liquibase` on
 * PATH, and the bundled install that `scripts/install-liquibase.sh` makes (npm `liquibase@4.28.1`
 * under `${SQLRS_TOOLS_DIR:-$HOME/.cache/sqlrs/tools}`). Its version comes from `--version` (about
 * 1.3 s of JVM start), cached per executable file in memory and, when asked, in a file.
 *
 * Every run gets a clean environment (no inherited `LIQUIBASE_*`, `JAVA_TOOL_OPTIONS`, ... that could
 * change the connection or load code), the JVM options that shorten start-up, and the connection
 * prepended by sqlrs. The password travels in the child's environment
 * (`LIQUIBASE_COMMAND_PASSWORD`), never on its command line, and is redacted from everything returned.
 * The launcher runs in its own process group, so cancelling a run also stops the JVM that the
 * launcher script starts.
 *
 * @module
 */

import { parseDuration } from "../../../shared/duration.ts";
import { dirname, join, resolve } from "node:path";
import { type ExecResult, run, runLines } from "../../exec.ts";
import { SqlrsError } from "../../../shared/errors.ts";

/** A Liquibase that sqlrs can run. */
export interface LiquibaseTool {
  /** The executable (launcher script) as found, not symlink-resolved. */
  path: string;
  /** As printed by `--version`, e.g. `4.28.0`. */
  version: string;
  source: "config" | "path" | "bundled";
}

/** The npm package `scripts/install-liquibase.sh` installs (it bundles Liquibase 4.28.0). */
export const BUNDLED_LIQUIBASE_PACKAGE = "liquibase@4.28.1";

/** JVM options that cut Liquibase's start-up (C1 only, serial GC): about 0.3 s per run. */
export const FAST_JAVA_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";

/** JVM options sqlrs adds after {@link FAST_JAVA_OPTS}: UTF-8 everywhere, no usage analytics. */
const FIXED_JAVA_OPTS =
  "-Dfile.encoding=UTF-8 -Dsun.stdout.encoding=UTF-8 -Dsun.stderr.encoding=UTF-8 -Dliquibase.analytics.enabled=false";

const INSTALL_FIX =
  "run scripts/install-liquibase.sh (needs npm), or set liquibase.exec in the engine config";
const JAVA_FIX = "apt-get install -y default-jre-headless (or set JAVA_HOME)";

/** Options of {@link findLiquibase}; tests use them instead of the process environment. */
export interface FindLiquibaseOptions {
  /** The environment to search and to run `--version` with (default: the engine's). */
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** A file that remembers probed versions across engine restarts (see {@link findLiquibase}). */
  versionFile?: string;
}

/** The directory `scripts/install-liquibase.sh` installs into. */
export function toolsDir(env: Record<string, string> = Deno.env.toObject()): string | null {
  if (env.SQLRS_TOOLS_DIR) return env.SQLRS_TOOLS_DIR;
  if (env.HOME) return join(env.HOME, ".cache", "sqlrs", "tools");
  return null;
}

/** Where `scripts/install-liquibase.sh` puts the launcher (whether or not it is there). */
export function bundledLiquibasePath(env: Record<string, string> = Deno.env.toObject()): string | null {
  const dir = toolsDir(env);
  if (dir === null) return null;
  const version = BUNDLED_LIQUIBASE_PACKAGE.split("@")[1] as string;
  return join(dir, `liquibase-${version}`, "node_modules", "liquibase", "dist", "liquibase", "liquibase");
}

function isExecutableFile(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** `name` looked up on a PATH string, like the shell does. */
function onPath(name: string, pathVar: string | undefined): string | null {
  for (const dir of (pathVar ?? "").split(":")) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

/** The java the launcher would use (`$JAVA_HOME/bin/java`, else `java` on PATH), or null. */
export function javaLocation(env: Record<string, string>): string | null {
  if (env.JAVA_HOME) {
    const java = join(env.JAVA_HOME, "bin", "java");
    return isExecutableFile(java) ? java : null;
  }
  return onPath("java", env.PATH);
}

/**
 * The environment of every Liquibase child: only what the launcher and the JVM need, taken from
 * `inherited`. Everything else is dropped, notably `LIQUIBASE_*` (connection, defaults file,
 * LIQUIBASE_HOME), `JAVA_TOOL_OPTIONS`/`JDK_JAVA_OPTIONS`/`_JAVA_OPTIONS` and `CLASSPATH`.
 */
export function liquibaseEnv(
  inherited: Record<string, string>,
  javaOpts: string = FAST_JAVA_OPTS,
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: inherited.PATH || "/usr/local/bin:/usr/bin:/bin",
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    JAVA_OPTS: `${javaOpts} ${FIXED_JAVA_OPTS}`.trim(),
  };
  for (const name of ["HOME", "JAVA_HOME", "TMPDIR", "TZ"]) {
    const value = inherited[name];
    if (value) env[name] = value;
  }
  return env;
}

/**
 * Runs in a job-controlled bash so that the launcher (a shell script that starts java as its child)
 * gets its own process group; a TERM/INT/HUP (what cancelling sends) is forwarded to the whole group.
 */
const GROUP_WRAPPER = [
  // The wrapper's own stderr goes nowhere (job control prints "[1]+ Done" notices there); the
  // child keeps the real stderr as fd 3.
  "exec 3>&2 2>/dev/null",
  "set -m",
  '"$@" </dev/null 2>&3 3>&- &',
  "child=$!",
  "set +m",
  `trap 'kill -TERM -- "-$child" 2>/dev/null' TERM INT HUP`,
  "while :; do",
  '  wait "$child"; rc=$?',
  '  kill -0 "$child" 2>/dev/null || exit "$rc"',
  "done",
].join("\n");

/** bash by absolute path: the child's PATH (the user's) must not decide which shell wraps Liquibase. */
function bash(): string {
  return ["/bin/bash", "/usr/bin/bash"].find(isExecutableFile) ?? onPath("bash", Deno.env.get("PATH")) ??
    "bash";
}

const versionCache = new Map<string, Promise<string>>();

function versionOf(output: string): string | null {
  const match = /Liquibase Version:\s*(\d[\w.\-]*)/i.exec(output) ??
    /Liquibase (?:Open Source|Community|Pro|Secure)?\s*(\d+\.\d+\.\d+[\w.\-]*)/i.exec(output) ??
    /\bversion (\d+\.\d+\.\d+[\w.\-]*)/i.exec(output);
  return match?.[1] ?? null;
}

function lastLine(text: string): string {
  return text.trim().split("\n").map((line) => line.trim()).filter((line) => line !== "").pop() ?? "";
}

async function probeVersion(
  path: string,
  fix: string,
  env: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<string> {
  const timeout = AbortSignal.timeout(120_000);
  const argv = [bash(), "-c", GROUP_WRAPPER, "sqlrs-liquibase", path, "--show-banner=false", "--version"];
  const result = await run(argv, {
    env: liquibaseEnv(env),
    signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
  });
  const output = `${result.stdout}\n${result.stderr}`;
  const version = result.code === 0 ? versionOf(output) : null;
  if (version !== null) return version;
  if (
    javaLocation(env) === null ||
    /cannot find java|JAVA_HOME|java: (?:command )?not found|no java/i.test(output)
  ) {
    throw new SqlrsError(
      "unavailable",
      `Liquibase at ${path} cannot start: no Java runtime; fix: ${JAVA_FIX}`,
    );
  }
  throw new SqlrsError(
    "unavailable",
    `Liquibase at ${path} does not work (--version exited ${result.code}${
      lastLine(output) ? `: ${lastLine(output)}` : ""
    }); fix: ${fix}`,
  );
}

/** Versions probed before, in `file`: `{ "<key>": "<version>" }`. */
async function readVersions(file: string): Promise<Record<string, string>> {
  try {
    const value = JSON.parse(await Deno.readTextFile(file));
    return typeof value === "object" && value !== null ? value : {};
  } catch {
    return {};
  }
}

async function rememberVersion(file: string, key: string, version: string): Promise<void> {
  const versions = { ...(await readVersions(file)), [key]: version };
  await Deno.mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(temporary, JSON.stringify(versions));
  await Deno.rename(temporary, file);
}

/**
 * `--version` of one executable, cached by its real path, size, mtime and the java it would use: in
 * memory, and in `versionFile` when given (so that an engine's first warm prepare starts no Java).
 */
async function cachedVersion(
  path: string,
  fix: string,
  env: Record<string, string>,
  options: FindLiquibaseOptions,
): Promise<string> {
  let key = path;
  let stable = false;
  try {
    const real = Deno.realPathSync(path);
    const info = Deno.statSync(real);
    key = `${real}\0${info.size}\0${info.mtime?.getTime() ?? 0}\0${javaLocation(env) ?? ""}`;
    stable = true;
  } catch {
    // probeVersion reports it
  }
  let pending = versionCache.get(key);
  if (pending === undefined) {
    const file = stable ? options.versionFile : undefined;
    pending = (async () => {
      const known = file === undefined ? undefined : (await readVersions(file))[key];
      if (known !== undefined) return known;
      const version = await probeVersion(path, fix, env, options.signal);
      if (file !== undefined) await rememberVersion(file, key, version).catch(() => {});
      return version;
    })();
    versionCache.set(key, pending);
    // Failures are not cached: the user may install Java or fix the file and retry.
    pending.catch(() => versionCache.delete(key));
  }
  return await pending;
}

/**
 * Finds the Liquibase to use: `configured` (engine config `liquibase.exec`; a bare name is looked up
 * on PATH) → `liquibase` on PATH → the bundled install.
 * @throws {SqlrsError} `unavailable`, with the fix, when none is found, when the configured one is
 * not an executable, when Java is missing or when `--version` fails
 */
export async function findLiquibase(
  configured: string | null,
  options: FindLiquibaseOptions = {},
): Promise<LiquibaseTool> {
  const env = options.env ?? Deno.env.toObject();
  if (configured !== null && configured.trim() !== "") {
    const path = configured.includes("/") ? resolve(configured) : onPath(configured, env.PATH);
    if (path === null || !isExecutableFile(path)) {
      throw new SqlrsError(
        "unavailable",
        `liquibase.exec is ${JSON.stringify(configured)}, which is not an executable file; fix: point ` +
          `liquibase.exec at a Liquibase launcher, or unset it to use the bundled one`,
      );
    }
    const fix = "point liquibase.exec at a working Liquibase, or unset it to use the bundled one";
    return { path, version: await cachedVersion(path, fix, env, options), source: "config" };
  }
  const fromPath = onPath("liquibase", env.PATH);
  if (fromPath !== null) {
    const fix = `fix the liquibase on PATH (${fromPath}) or set liquibase.exec in the engine config`;
    return {
      path: fromPath,
      version: await cachedVersion(fromPath, fix, env, options),
      source: "path",
    };
  }
  const bundled = bundledLiquibasePath(env);
  if (bundled !== null && isExecutableFile(bundled)) {
    const fix = "rerun scripts/install-liquibase.sh (delete its directory first if it is damaged)";
    return {
      path: bundled,
      version: await cachedVersion(bundled, fix, env, options),
      source: "bundled",
    };
  }
  throw new SqlrsError(
    "unavailable",
    `Liquibase is not installed (no liquibase.exec, no liquibase on PATH, nothing at ${
      bundled ?? "$SQLRS_TOOLS_DIR"
    }); fix: ${INSTALL_FIX}`,
  );
}

/** Where Liquibase connects: always TCP (JDBC has no unix sockets). */
export interface LiquibaseConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** PostgreSQL's `statement_timeout` for the session, as a duration such as `30s`. */
  statementTimeout?: string | undefined;
}

/** Options of {@link runLiquibase}. */
export interface RunLiquibaseOptions {
  /** Liquibase's working directory: relative changelog paths (and the FILENAME column) start here. */
  cwd: string;
  url: LiquibaseConnection;
  /** Each output line as it arrives (password redacted); stdout carries update-sql's SQL. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  signal?: AbortSignal;
  /** The environment the child's is taken from (default: the engine's); see {@link liquibaseEnv}. */
  env?: Record<string, string>;
  /** Replaces {@link FAST_JAVA_OPTS} (measurements use `""`). */
  javaOpts?: string;
  /** The launcher's `LIQUIBASE_HOME` (see lb_fast_start.ts); by default it finds its own. */
  home?: string;
}

/** A finished Liquibase run: full stdout, stderr, and the command line as logged. */
export interface LiquibaseResult extends ExecResult {
  /** The executed command, safe to log (the password is never on it). */
  commandLine: string;
  durationMs: number;
}

/** The JDBC URL of a connection (no credentials in it). */
export function jdbcUrl(url: Omit<LiquibaseConnection, "user" | "password">): string {
  const host = url.host.includes(":") && !url.host.startsWith("[") ? `[${url.host}]` : url.host;
  const base = `jdbc:postgresql://${host}:${url.port}/${encodeURIComponent(url.database)}`;
  if (url.statementTimeout === undefined) return base;
  // The driver's `options` are the session's startup options, as libpq's are (engine/session_options.ts).
  return `${base}?options=${
    encodeURIComponent(`-c statement_timeout=${parseDuration(url.statementTimeout)}`)
  }`;
}

/** Passwords shorter than this are not redacted: they cannot be told apart from ordinary output. */
const MIN_REDACTED_LENGTH = 6;

/** `text` with every occurrence of `secret` replaced by `***`. */
export function redact(text: string, secret: string): string {
  return secret.length < MIN_REDACTED_LENGTH ? text : text.split(secret).join("***");
}

function quoteForLog(arg: string): string {
  return /^[\w@%+=:,./\-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * Runs `tool` with `args` (global options, then the command and its options; no connection options)
 * against `options.url`. Prepends `--url`, `--username` and `--show-banner=false`; the password is
 * passed as `LIQUIBASE_COMMAND_PASSWORD`. Never throws on a non-zero exit (see {@link liquibaseFailure}).
 */
export async function runLiquibase(
  tool: LiquibaseTool,
  args: readonly string[],
  options: RunLiquibaseOptions,
): Promise<LiquibaseResult> {
  const { url } = options;
  const argv = [
    tool.path,
    "--show-banner=false",
    `--url=${jdbcUrl(url)}`,
    `--username=${url.user}`,
    ...args,
  ];
  const env = liquibaseEnv(options.env ?? Deno.env.toObject(), options.javaOpts ?? FAST_JAVA_OPTS);
  env.LIQUIBASE_COMMAND_PASSWORD = url.password;
  if (options.home !== undefined) env.LIQUIBASE_HOME = options.home;
  const stdout: string[] = [];
  const stderr: string[] = [];
  const started = performance.now();
  const result = await runLines(
    [bash(), "-c", GROUP_WRAPPER, "sqlrs-liquibase", ...argv],
    ({ stream, line }) => {
      const clean = redact(line.endsWith("\r") ? line.slice(0, -1) : line, url.password);
      (stream === "stdout" ? stdout : stderr).push(clean);
      options.onLine?.(clean, stream);
    },
    { cwd: options.cwd, env, ...(options.signal === undefined ? {} : { signal: options.signal }) },
  );
  return {
    code: result.code,
    stdout: stdout.join("\n"),
    stderr: stderr.join("\n"),
    commandLine: argv.map(quoteForLog).join(" "),
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * The message a failed run should fail its job with: Liquibase's "Unexpected error running
 * Liquibase: …" paragraph (which names the failed changeset and the database error), else its
 * `ERROR:` lines, else the last output lines.
 */
export function liquibaseFailure(result: Pick<ExecResult, "code" | "stdout" | "stderr">): string {
  const lines = `${result.stderr}\n${result.stdout}`.split("\n");
  const start = lines.findIndex((line) => line.startsWith("Unexpected error running Liquibase:"));
  if (start !== -1) {
    const paragraph: string[] = [];
    for (const line of lines.slice(start)) {
      if (/^For more information, (please )?use the --log-level flag/.test(line)) break;
      paragraph.push(line);
    }
    return paragraph.join("\n").replace(/^Unexpected error running Liquibase:\s*/, "").trim();
  }
  const errors = lines.filter((line) => /^(ERROR|SEVERE)\b/.test(line));
  if (errors.length > 0) return errors.join("\n").trim();
  const tail = lines.filter((line) => line.trim() !== "").slice(-10).join("\n");
  return tail === "" ? `Liquibase exited ${result.code}` : `Liquibase exited ${result.code}: ${tail}`;
}
