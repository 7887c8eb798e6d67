/**
 * `sqlrs` on a pseudo-terminal (util-linux `script`), for tests of what people see on a terminal.
 *
 * @module
 */

import { CLI, type Sandbox } from "./_sandbox.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const hasScript = (() => {
  try {
    return new Deno.Command("script", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

/** `sqlrs <args>` on a pseudo-terminal: what it printed so far, and a keyboard. */
export class TerminalCli {
  readonly #child: Deno.ChildProcess;
  readonly #keyboard: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reading: Promise<void>;
  screen = "";

  constructor(
    sandbox: Sandbox,
    args: readonly string[],
    options: { cwd?: string; env?: Record<string, string> } = {},
  ) {
    const argv = [Deno.execPath(), "run", "-A", "--quiet", CLI, ...args];
    // `exec`: the shell script starts (dash when SHELL is unset, as in CI) must not stay between the
    // terminal and sqlrs, or it dies of the Ctrl+C itself and reports 130 whatever sqlrs chose.
    const command = "exec " + argv.map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(" ");
    // -e: exit with the command's code; -f: flush output at once; the typescript goes nowhere.
    const child = new Deno.Command("script", {
      args: ["-qfec", command, "/dev/null"],
      cwd: options.cwd ?? sandbox.dir,
      env: { ...sandbox.env, ...options.env },
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#child = child;
    this.#keyboard = child.stdin.getWriter();
    this.#reading = (async () => {
      for await (const chunk of child.stdout) this.screen += decoder.decode(chunk, { stream: true });
    })();
  }

  /** Waits until the terminal shows `pattern` (after `from` characters). */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = pattern.exec(this.screen.slice(from));
      if (match !== null) return from + match.index + match[0].length;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the terminal never showed ${pattern}; it shows:\n${this.screen}`);
  }

  async type(text: string): Promise<void> {
    await this.#keyboard.write(encoder.encode(text));
  }

  /** Waits for the command to exit; returns its exit code. */
  async exit(): Promise<number> {
    const { code } = await this.#child.status;
    await this.#keyboard.close().catch(() => {});
    await this.#reading;
    return code;
  }
}
