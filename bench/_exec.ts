/**
 * The one place where the benchmark starts child processes: argv arrays only, never a shell.
 *
 * @module
 */

/** Options of one child process. */
export interface RunOptions {
  cwd?: string;
  /** Extra environment on top of the benchmark's own. */
  env?: Record<string, string>;
  /** Run as this user (the benchmark must be root). */
  uid?: number;
  gid?: number;
  stdin?: string;
}

/** What a finished child left behind. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A failed command, with its argv, exit code and the tail of its output. */
export class CommandFailedError extends Error {
  readonly code: number;
  constructor(argv: readonly string[], result: RunResult) {
    const tail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-15).join("\n");
    super(`Command failed (exit ${result.code}): ${argv.join(" ")}${tail ? `\n${tail}` : ""}`);
    this.name = "CommandFailedError";
    this.code = result.code;
  }
}

function options(argv: readonly string[], opts: RunOptions, stdio: "piped" | "null"): Deno.CommandOptions {
  const command: Deno.CommandOptions = {
    args: argv.slice(1),
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: stdio,
    stderr: stdio,
  };
  if (opts.cwd !== undefined) command.cwd = opts.cwd;
  if (opts.env !== undefined) command.env = opts.env;
  if (opts.uid !== undefined) command.uid = opts.uid;
  if (opts.gid !== undefined) command.gid = opts.gid;
  return command;
}

/** Runs a command to its end; never throws on a non-zero exit. */
export async function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [program] = argv;
  if (program === undefined) throw new TypeError("Cannot run a command: argv is empty");
  const child = new Deno.Command(program, options(argv, opts, "piped")).spawn();
  if (opts.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(opts.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

/** Runs a command and returns its stdout; throws {@link CommandFailedError} unless it exits 0. */
export async function runOk(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const result = await run(argv, opts);
  if (result.code !== 0) throw new CommandFailedError(argv, result);
  return result.stdout;
}

/** Whether a command exits 0 (a missing program counts as failure). */
export async function succeeds(argv: readonly string[], opts: RunOptions = {}): Promise<boolean> {
  try {
    return (await run(argv, opts)).code === 0;
  } catch {
    return false;
  }
}

/** Reads a stream to its end in the background, keeping its last 4 KiB of text. */
function keepTail(stream: ReadableStream<Uint8Array>): { drain: Promise<void>; tail: () => string } {
  let text = "";
  const drain = (async () => {
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        text = (text + chunk).slice(-4096);
      }
    } catch {
      // the child went away
    }
  })();
  return { drain, tail: () => text };
}

/** A child whose stdout/stderr are discarded but whose stderr tail is kept for error messages. */
export interface LiveChild {
  readonly pid: number;
  readonly status: Promise<Deno.CommandStatus>;
  /** The last few KB the child wrote on stderr. */
  stderrTail(): string;
  kill(signal: Deno.Signal): void;
}

/**
 * Starts a long-running child (a server). Its stderr is drained into a small ring so that the pipe
 * never fills; stdout is discarded.
 */
export function spawn(argv: readonly string[], opts: RunOptions = {}): LiveChild {
  const [program] = argv;
  if (program === undefined) throw new TypeError("Cannot start a command: argv is empty");
  const command = options(argv, opts, "null");
  command.stderr = "piped";
  const child = new Deno.Command(program, command).spawn();
  const { drain, tail } = keepTail(child.stderr);
  const status = child.status.then(async (s) => {
    await drain;
    return s;
  });
  return {
    pid: child.pid,
    status,
    stderrTail: tail,
    kill(signal) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    },
  };
}

/** A child with a writable stdin and line-wise stdout, for a long-lived psql session. */
export interface InteractiveChild {
  readonly pid: number;
  write(text: string): Promise<void>;
  /** Resolves with the next stdout line, or undefined at end of output. */
  readLine(): Promise<string | undefined>;
  close(): Promise<void>;
  stderrTail(): string;
}

/** Starts a child whose stdin we write and whose stdout we read line by line. */
export function spawnInteractive(argv: readonly string[], opts: RunOptions = {}): InteractiveChild {
  const [program] = argv;
  if (program === undefined) throw new TypeError("Cannot start a command: argv is empty");
  const command = options(argv, opts, "piped");
  command.stdin = "piped";
  const child = new Deno.Command(program, command).spawn();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let ended = false;
  const { drain, tail } = keepTail(child.stderr);
  const encoder = new TextEncoder();
  return {
    pid: child.pid,
    async write(text) {
      await writer.write(encoder.encode(text));
    },
    async readLine() {
      for (;;) {
        const newline = buffer.indexOf("\n");
        if (newline !== -1) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          return line;
        }
        if (ended) {
          if (buffer === "") return undefined;
          const rest = buffer;
          buffer = "";
          return rest;
        }
        const { value, done } = await lines.read();
        if (done) ended = true;
        else buffer += value;
      }
    },
    async close() {
      await writer.close().catch(() => {});
      while (!ended) {
        const { done } = await lines.read().catch(() => ({ done: true, value: undefined }));
        if (done) ended = true;
      }
      await child.status;
      await drain;
    },
    stderrTail: tail,
  };
}
