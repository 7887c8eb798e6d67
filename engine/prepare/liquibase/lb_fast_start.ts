/**
 * A faster start of the JVM for the engine's Liquibase runs (one JVM per plan and per run of steps).
 *
 * Most of a small Liquibase run is the JVM starting: loading and verifying some 5,000 classes, and
 * Liquibase's service scan, which opens every jar of its install. Two things cut it, both kept in the
 * store's `cache/liquibase-jvm/<key>/`, where the key is the java executable and every jar of the
 * install (name, size, mtime), so that an upgrade of either makes a new entry:
 *
 * - `home/`: a Liquibase home of symlinks to the real one without the JDBC drivers of other databases
 *   (snowflake-jdbc alone is 70 MB and some 300 classes loaded by the service scan). The launcher is
 *   told to use it (`LIQUIBASE_HOME`). Only an install with the standard layout
 *   (`internal/lib/liquibase-core.jar` beside the launcher's real path) gets one.
 * - `liquibase.jsa`: a dynamic class-data-sharing archive of the classes such a run loads (JDK 13+,
 *   `-XX:ArchiveClassesAtExit`; an older java is asked once and gets only the pruned home). The first run without one writes it (to a temporary name, renamed only
 *   when the run succeeded); later runs map it (`-XX:SharedArchiveFile`). A JVM that cannot use it
 *   (another java, a changed jar) silently loads the classes as usual.
 *
 * The JVM's own log messages go to stderr, never stdout (which carries `update-sql`'s SQL): a dump
 * prints hundreds of `[cds]` warnings, which are turned off.
 *
 * `liquibase update` by hand (the bench's baseline) uses neither.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { run } from "../../exec.ts";
import { dirname, join } from "node:path";
import {
  FAST_JAVA_OPTS,
  javaLocation,
  type LiquibaseResult,
  type LiquibaseTool,
  runLiquibase,
  type RunLiquibaseOptions,
} from "./lb_tool.ts";

/** JDBC drivers of other databases shipped in `internal/lib`: never used against PostgreSQL. */
const OTHER_DRIVERS =
  /^(?:h2|hsqldb|jaybird|jcc|mariadb-java-client|mssql-jdbc|ojdbc\d*|snowflake-jdbc|sqlite-jdbc)(?:-[\d.]+)?\.jar$/;

/** JVM log output on stderr only, without class-data-sharing's messages. */
const JVM_LOG_OPTS = "-Xlog:disable -Xlog:all=warning:stderr -Xlog:cds*=off:stderr";

/** How one run starts the JVM. */
interface FastStart {
  home: string | undefined;
  javaOpts: string;
  /** Set when this run writes the archive: where it writes it, and where it goes on success. */
  dump?: { temporary: string; archive: string };
}

async function entries(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name).sort();
  } catch {
    return [];
  }
}

/** `path`'s real path, size and mtime, or null when it cannot be read. */
function identity(path: string): string | null {
  try {
    const real = Deno.realPathSync(path);
    const info = Deno.statSync(real);
    return `${real}\0${info.size}\0${info.mtime?.getTime() ?? 0}`;
  } catch {
    return null;
  }
}

/** The real Liquibase home of `tool` when it has the standard layout, else null. */
function standardHome(tool: LiquibaseTool): string | null {
  try {
    const home = dirname(Deno.realPathSync(tool.path));
    return Deno.statSync(join(home, "internal", "lib", "liquibase-core.jar")).isFile ? home : null;
  } catch {
    return null;
  }
}

/** The cache key: the java, the launcher and every jar of the install. */
async function cacheKey(
  home: string | null,
  tool: LiquibaseTool,
  env: Record<string, string>,
): Promise<string> {
  const parts = [
    FAST_JAVA_OPTS,
    identity(javaLocation(env) ?? "java") ?? "",
    identity(tool.path) ?? tool.path,
  ];
  if (home !== null) {
    for (const sub of [join("internal", "lib"), join("internal", "extensions"), "lib"]) {
      for (const name of await entries(join(home, sub))) {
        parts.push(`${sub}/${name}\0${identity(join(home, sub, name))}`);
      }
    }
  }
  return createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 24);
}

/** Symlinks `home` into `target`, without the other databases' drivers in `internal/lib`. */
async function linkHome(home: string, target: string): Promise<void> {
  await Deno.mkdir(join(target, "internal", "lib"), { recursive: true });
  for (const name of await entries(home)) {
    if (name !== "internal") await Deno.symlink(join(home, name), join(target, name));
  }
  for (const name of await entries(join(home, "internal"))) {
    if (name !== "lib") await Deno.symlink(join(home, "internal", name), join(target, "internal", name));
  }
  for (const name of await entries(join(home, "internal", "lib"))) {
    if (!OTHER_DRIVERS.test(name)) {
      await Deno.symlink(join(home, "internal", "lib", name), join(target, "internal", "lib", name));
    }
  }
}

/** The pruned home in `dir`, made once (in a temporary directory renamed into place). */
async function prunedHome(home: string, dir: string): Promise<string> {
  const target = join(dir, "home");
  if (identity(target) !== null) return target;
  const temporary = join(dir, `.home-${crypto.randomUUID()}`);
  await linkHome(home, temporary);
  try {
    await Deno.rename(temporary, target);
  } catch {
    // Another run made it first.
    await Deno.remove(temporary, { recursive: true }).catch(() => {});
  }
  return target;
}

/**
 * Whether the java the launcher uses has dynamic archives (JDK 13+; an older one would refuse to start
 * with their options), asked once per cache entry (`java-cds`: `yes` or `no`).
 */
async function javaArchives(dir: string, env: Record<string, string>): Promise<boolean> {
  const marker = join(dir, "java-cds");
  const known = await Deno.readTextFile(marker).catch(() => null);
  if (known !== null) return known === "yes";
  const java = javaLocation(env);
  const flags = java === null
    ? null
    : await run([java, "-XX:+PrintFlagsFinal", "-version"], { env }).catch(() => null);
  const supported = flags !== null && flags.code === 0 && /\bArchiveClassesAtExit\b/.test(flags.stdout);
  await Deno.writeTextFile(marker, supported ? "yes" : "no");
  return supported;
}

async function prepareStart(
  tool: LiquibaseTool,
  cacheDir: string,
  env: Record<string, string>,
): Promise<FastStart> {
  const home = standardHome(tool);
  const dir = join(cacheDir, await cacheKey(home, tool, env));
  await Deno.mkdir(dir, { recursive: true });
  const prunedAt = home === null ? undefined : await prunedHome(home, dir);
  if (!(await javaArchives(dir, env))) return { home: prunedAt, javaOpts: FAST_JAVA_OPTS };
  const archive = join(dir, "liquibase.jsa");
  const base = `${FAST_JAVA_OPTS} ${JVM_LOG_OPTS}`;
  if (identity(archive) !== null) {
    return { home: prunedAt, javaOpts: `${base} -XX:SharedArchiveFile=${archive}` };
  }
  const temporary = join(dir, `.liquibase-${crypto.randomUUID()}.jsa`);
  return {
    home: prunedAt,
    javaOpts: `${base} -XX:ArchiveClassesAtExit=${temporary}`,
    dump: { temporary, archive },
  };
}

/**
 * {@link runLiquibase} with the faster start kept in `cacheDir` (null: the plain start). Setting up
 * the cache never fails a run: without it, the run starts as usual.
 */
export async function runLiquibaseFast(
  tool: LiquibaseTool,
  args: readonly string[],
  options: RunLiquibaseOptions,
  cacheDir: string | null,
): Promise<LiquibaseResult> {
  const env = options.env ?? Deno.env.toObject();
  const start = cacheDir === null ? null : await prepareStart(tool, cacheDir, env).catch(() => null);
  if (start === null) return await runLiquibase(tool, args, options);
  let code: number | undefined;
  try {
    const result = await runLiquibase(tool, args, {
      ...options,
      javaOpts: start.javaOpts,
      ...(start.home === undefined ? {} : { home: start.home }),
    });
    code = result.code;
    return result;
  } finally {
    if (start.dump !== undefined) {
      const { temporary, archive } = start.dump;
      if (code === 0 && identity(temporary) !== null) await Deno.rename(temporary, archive).catch(() => {});
      await Deno.remove(temporary).catch(() => {});
    }
  }
}
