/**
 * The control prompt Ctrl+C opens while a job is followed on a terminal (seed 001, section 5.1):
 * `stop` cancels the job after a confirmation, `detach` leaves it running, `continue` goes on
 * following.
 *
 * @module
 */

import { err } from "./output.ts";

/** What the user chose at the prompt. */
export type ControlChoice = "stop" | "detach" | "continue";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One line typed on stdin (trimmed, lower-cased), or `undefined` at end of input. */
async function readLine(): Promise<string | undefined> {
  const buffer = new Uint8Array(256);
  let text = "";
  while (!text.includes("\n")) {
    const read = await Deno.stdin.read(buffer);
    if (read === null) return text === "" ? undefined : text.trim().toLowerCase();
    text += decoder.decode(buffer.subarray(0, read));
  }
  return text.slice(0, text.indexOf("\n")).trim().toLowerCase();
}

function ask(question: string): Promise<string | undefined> {
  Deno.stderr.writeSync(encoder.encode(question));
  return readLine();
}

/**
 * Asks what to do with job `jobId` until the answer is one of the choices; `stop` is confirmed
 * first (an answer other than yes means `continue`). End of input means `continue`.
 */
export async function controlPrompt(jobId: string): Promise<ControlChoice> {
  err(`\njob ${jobId} is still running`);
  while (true) {
    const answer = await ask("stop, detach or continue? [continue] ");
    if (answer === undefined || answer === "" || answer === "c" || answer === "continue") return "continue";
    if (answer === "d" || answer === "detach") return "detach";
    if (answer === "s" || answer === "stop") {
      const confirm = await ask(`Cancel job ${jobId}? [y/N] `);
      return confirm === "y" || confirm === "yes" ? "stop" : "continue";
    }
    err(`unknown answer "${answer}": type stop, detach or continue`);
  }
}
