/**
 * Test sandboxes: each has its own state dir, store and config dir, runs the real CLI and engine as
 * processes, and cleans up (engine, servers, files) when disposed.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EngineFile } from "../shared/schemas.ts";
import { processAlive } from "../shared/paths.ts";

export { processAlive };
import { EngineClient } from "../client/engine_client.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The CLI entry point. */
export const CLI = join(ROOT, "cli", "main.ts");
/** The engine entry point. */
export const ENGINE = join(ROOT, "engine", "main.ts");
/** Repository root. */
export const REPO = ROOT;

/** What a finished CLI run printed. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of one CLI run. */
export interface CliRunOptions {
  stdin?: string;
  cwd?: string;
  env?: Record<string, string>;
}

/** Runs a program to completion with piped output; `stdin` text is written and closed. */
export async function runProgram(
  program: string,
  args: readonly string[],
  options: { cwd: string; env: Record<string, string>; stdin?: string },
): Promise<CliResult> {
  const child = new Deno.Command(program, {
    args: [...args],
    cwd: options.cwd,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

/** An isolated sqlrs installation for one test. */
export class Sandbox implements AsyncDisposable {
  readonly dir: string;
  readonly env: Record<string, string>;

  private constructor(dir: string, env: Record<string, string>) {
    this.dir = dir;
    this.env = env;
  }

  /** Creates a sandbox under /tmp; extra env (e.g. SQLRS_STATE_STORE under the sandbox) can be given. */
  static async create(extraEnv: (dir: string) => Record<string, string> = () => ({})): Promise<Sandbox> {
    const dir = await Deno.makeTempDir({ prefix: "sqlrs-test-" });
    // PostgreSQL runs as an unprivileged user and must reach the store.
    await Deno.chmod(dir, 0o755);
    const env: Record<string, string> = {
      XDG_STATE_HOME: join(dir, "state"),
      XDG_CONFIG_HOME: join(dir, "config"),
      SQLRS_ENGINE_ADDR: "",
      TAIDON_ENGINE_ADDR: "",
      ...extraEnv(dir),
    };
    return new Sandbox(dir, env);
  }

  get stateDir(): string {
    return join(this.env.XDG_STATE_HOME as string, "sqlrs");
  }

  get storeRoot(): string {
    return this.env.SQLRS_STATE_STORE ?? join(this.stateDir, "store");
  }

  get engineFile(): string {
    return join(this.stateDir, "engine.json");
  }

  /** Writes the CLI's config.yaml. */
  async writeCliConfig(yaml: string): Promise<void> {
    await Deno.mkdir(join(this.env.XDG_CONFIG_HOME as string, "sqlrs"), { recursive: true });
    await Deno.writeTextFile(join(this.env.XDG_CONFIG_HOME as string, "sqlrs", "config.yaml"), yaml);
  }

  /** Runs `sqlrs <args>` to completion. */
  cli(args: readonly string[], options: CliRunOptions = {}): Promise<CliResult> {
    return runProgram(Deno.execPath(), ["run", "-A", "--quiet", CLI, ...args], {
      cwd: options.cwd ?? this.dir,
      env: { ...this.env, ...options.env },
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    });
  }

  /** `sqlrs [flags] run:psql --instance REF -- -A -t -c SQL`: one query, unaligned and tuples only. */
  query(instance: string, sql: string, flags: readonly string[] = []): Promise<CliResult> {
    return this.cli([...flags, "run:psql", "--instance", instance, "--", "-A", "-t", "-c", sql]);
  }

  /** Runs the CLI and fails with its output unless it exits 0. */
  async cliOk(args: readonly string[], options: CliRunOptions = {}): Promise<CliResult> {
    const result = await this.cli(args, options);
    if (result.code !== 0) {
      throw new Error(
        `sqlrs ${args.join(" ")} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
      );
    }
    return result;
  }

  /** The current engine.json, if any. */
  async engineInfo(): Promise<EngineFile | undefined> {
    try {
      return EngineFile.parse(JSON.parse(await Deno.readTextFile(this.engineFile)));
    } catch {
      return undefined;
    }
  }

  /** A client of the running engine (from engine.json). */
  async client(): Promise<EngineClient> {
    const info = await this.engineInfo();
    if (info === undefined) throw new Error("no engine.json: start the engine first (e.g. sqlrs status)");
    return new EngineClient({ endpoint: info.endpoint, token: info.authToken });
  }

  /**
   * Stops the engine, removes the docker/podman containers of the sandbox, stops every server under the
   * store, unmounts what the store mounted, and removes the files.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    const info = await this.engineInfo();
    if (info !== undefined) {
      try {
        Deno.kill(info.pid, "SIGTERM");
        await waitFor(() => !processAlive(info.pid), 15_000);
      } catch {
        // already gone
      }
    }
    // Containers exist only where a container image's base was made (engines/container/...).
    try {
      await Deno.stat(join(this.storeRoot, "engines", "container"));
      const { removeContainersUnder } = await import("./_containers.ts");
      await removeContainersUnder(this.dir);
    } catch {
      // no container image was used
    }
    await stopServersUnder(this.dir);
    await unmountUnder(this.dir);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Polls `check` every 20 ms until it holds or `timeoutMs` passes. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return await check();
}

/** Pids of postgres postmasters whose data directory is under `root`. */
export function postgresUnder(root: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      const d = argv.indexOf("-D");
      if (/postgres$/.test(argv[0] ?? "") && d !== -1 && (argv[d + 1] ?? "").startsWith(root)) {
        pids.push(Number(entry.name));
      }
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

export async function stopServersUnder(root: string): Promise<void> {
  for (const pid of postgresUnder(root)) {
    try {
      Deno.kill(pid, "SIGQUIT");
    } catch {
      // gone
    }
  }
  await waitFor(() => postgresUnder(root).length === 0, 10_000);
}

async function unmountUnder(root: string): Promise<void> {
  const mounts = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((mountPoint) => mountPoint.startsWith(root))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of mounts) {
    await new Deno.Command("umount", { args: ["-l", mountPoint], stdout: "null", stderr: "null" }).output();
  }
}
