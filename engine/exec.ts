/**
 * The one place where the engine starts child processes.
 *
 * Takes argv arrays only (never a shell) and an explicit environment; cancelling the `signal`
 * kills the child. `run` never throws on a non-zero exit: callers decide what failure means.
 *
 * @module
 */

import { SqlrsError } from "../shared/errors.ts";
import { TextLineStream } from "../shared/ndjson.ts";

/** Options of one child process. */
export interface ExecOptions {
  cwd?: string;
  /** The child's whole environment (nothing is inherited when given). */
  env?: Record<string, string>;
  /** Bytes or text written to the child's stdin, which is then closed. */
  stdin?: string | Uint8Array;
  signal?: AbortSignal;
  /** Run the child as this user (the engine must be root). */
  uid?: number;
  gid?: number;
}

/** What a finished child left behind. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A line a running child printed. */
export interface OutputLine {
  stream: "stdout" | "stderr";
  line: string;
}

/** A command line for a message: long argv (a `cp` of hundreds of files) shortened to its head. */
export function commandLine(argv: readonly string[], maxLength = 300): string {
  const line = argv.join(" ");
  if (line.length <= maxLength) return line;
  return `${line.slice(0, maxLength)}… (${argv.length} arguments)`;
}

/** A failed command, with its exit code and the tail of its stderr. */
export class CommandError extends SqlrsError {
  readonly exitCode: number;
  readonly stderr: string;
  constructor(argv: readonly string[], result: ExecResult) {
    const tail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-20).join("\n");
    super(
      "internal_error",
      `Command failed (exit ${result.code}): ${commandLine(argv)}${tail ? `\n${tail}` : ""}`,
    );
    this.name = "CommandError";
    this.exitCode = result.code;
    this.stderr = result.stderr;
  }
}

function commandOptions(argv: readonly string[], options: ExecOptions, stdin: boolean): Deno.CommandOptions {
  const opts: Deno.CommandOptions = {
    args: argv.slice(1),
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  };
  if (options.cwd !== undefined) opts.cwd = options.cwd;
  if (options.env !== undefined) {
    opts.env = options.env;
    opts.clearEnv = true;
  }
  if (options.signal !== undefined) opts.signal = options.signal;
  if (options.uid !== undefined) opts.uid = options.uid;
  if (options.gid !== undefined) opts.gid = options.gid;
  return opts;
}

function spawnChild(argv: readonly string[], options: ExecOptions): Deno.ChildProcess {
  const [program] = argv;
  if (program === undefined) throw new TypeError("Cannot run a command: argv is empty");
  try {
    return new Deno.Command(program, commandOptions(argv, options, options.stdin !== undefined)).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new SqlrsError("unavailable", `Cannot run ${program}: not found on this machine`, {
        cause: error,
      });
    }
    throw error;
  }
}

async function feedStdin(child: Deno.ChildProcess, stdin: string | Uint8Array | undefined): Promise<void> {
  if (stdin === undefined) return;
  const writer = child.stdin.getWriter();
  try {
    await writer.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
    await writer.close();
  } catch {
    // The child may exit without reading all of its input (psql stops at the first error).
  }
}

/** Runs a command to completion and collects its output. */
export async function run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const child = spawnChild(argv, options);
  const [output] = await Promise.all([child.output(), feedStdin(child, options.stdin)]);
  const decoder = new TextDecoder();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

/**
 * How a module runs commands to completion, handed to it so that a test can give it a recording fake
 * (see {@link execOver}); {@link defaultExec} starts real processes.
 */
export interface Exec {
  /** Runs a command to completion; never throws on a non-zero exit. */
  run(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * Runs a command and returns its stdout.
   * @throws {CommandError} when it exits non-zero
   */
  runOk(argv: readonly string[], options?: ExecOptions): Promise<string>;
}

/** The {@link Exec} whose `run` is `runner` and whose `runOk` fails on a non-zero exit of it. */
export function execOver(runner: Exec["run"]): Exec {
  return {
    run: runner,
    async runOk(argv, options = {}) {
      const result = await runner(argv, options);
      if (result.code !== 0) throw new CommandError(argv, result);
      return result.stdout;
    },
  };
}

/** The {@link Exec} that starts real child processes. */
export const defaultExec: Exec = execOver(run);

/**
 * Runs a command and returns its stdout.
 * @throws {CommandError} when it exits non-zero
 */
export function runOk(argv: readonly string[], options: ExecOptions = {}): Promise<string> {
  return defaultExec.runOk(argv, options);
}

/** How many of a child's last output lines are kept for error messages. */
const TAIL_LINES = 50;

/** Reads a byte stream line by line as it arrives; with `tail`, keeps the last lines there. */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  tail?: string[],
): Promise<void> {
  for await (const line of stream.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream())) {
    if (tail !== undefined) {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    }
    onLine(line);
  }
}

/**
 * Runs a command and hands each output line to `onLine` as it arrives.
 * Resolves with the exit code and the last lines of stderr.
 */
export async function runLines(
  argv: readonly string[],
  onLine: (line: OutputLine) => void,
  options: ExecOptions = {},
): Promise<ExecResult> {
  const child = spawnChild(argv, options);
  const stderrTail: string[] = [];
  const stdoutTail: string[] = [];
  const [, , , status] = await Promise.all([
    feedStdin(child, options.stdin),
    readLines(child.stdout, (line) => onLine({ stream: "stdout", line }), stdoutTail),
    readLines(child.stderr, (line) => onLine({ stream: "stderr", line }), stderrTail),
    child.status,
  ]);
  return { code: status.code, stdout: stdoutTail.join("\n"), stderr: stderrTail.join("\n") };
}

/** Starts a long-lived child in its own session, detached from the engine, with no pipes. */
export function spawnDetached(
  argv: readonly string[],
  options: Omit<ExecOptions, "stdin" | "signal"> = {},
): number {
  const [program] = argv;
  if (program === undefined) throw new TypeError("Cannot run a command: argv is empty");
  const opts: Deno.CommandOptions = {
    args: argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  };
  if (options.cwd !== undefined) opts.cwd = options.cwd;
  if (options.env !== undefined) {
    opts.env = options.env;
    opts.clearEnv = true;
  }
  if (options.uid !== undefined) opts.uid = options.uid;
  if (options.gid !== undefined) opts.gid = options.gid;
  const child = new Deno.Command(program, opts).spawn();
  child.unref();
  return child.pid;
}

/** A running child whose output is consumed as byte streams. */
export interface StreamingChild {
  readonly pid: number;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  /** Resolves with the exit code (128 + signal number when killed by a signal). */
  readonly status: Promise<number>;
  kill(signal?: Deno.Signal): void;
}

/** Starts a child whose stdout and stderr the caller reads as they are produced. */
export function spawnStreaming(argv: readonly string[], options: ExecOptions = {}): StreamingChild {
  const child = spawnChild(argv, options);
  void feedStdin(child, options.stdin);
  return {
    pid: child.pid,
    stdout: child.stdout,
    stderr: child.stderr,
    status: child.status.then((s) => (s.signal === null ? s.code : 128 + signalNumber(s.signal))),
    kill(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
    },
  };
}

function signalNumber(signal: Deno.Signal): number {
  const numbers: Partial<Record<Deno.Signal, number>> = {
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGTERM: 15,
    SIGPIPE: 13,
  };
  return numbers[signal] ?? 1;
}
