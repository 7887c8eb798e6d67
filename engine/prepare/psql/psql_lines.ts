/**
 * The lines of a psql input, each with its end of line, from a text or streamed from a file.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { Line } from "./psql_context.ts";

/** The lines of a text, each with its end of line ("" for a last line without one). */
export function* textLines(text: string): Generator<Line> {
  let start = 0;
  while (start < text.length) {
    const newline = text.indexOf("\n", start);
    const end = newline === -1 ? text.length : newline;
    yield [text.slice(start, end), newline === -1 ? "" : "\n"];
    start = end + 1;
  }
}

/**
 * The lines of a file read as a stream (memory stays flat whatever its size), while its raw bytes are
 * hashed; `onEnd` gets that digest and whether the bytes were valid UTF-8 (when not, the decoded text
 * lost information and the raw bytes must be keyed too).
 */
export async function* fileLines(
  file: Deno.FsFile,
  onEnd: (digest: string, validUtf8: boolean) => void,
): AsyncGenerator<Line> {
  const raw = createHash("sha256");
  const decoder = new TextDecoder();
  const strict = new TextDecoder("utf-8", { fatal: true });
  let validUtf8 = true;
  let rest = "";
  for await (const chunk of file.readable) {
    raw.update(chunk);
    if (validUtf8) {
      try {
        strict.decode(chunk, { stream: true });
      } catch {
        validUtf8 = false;
      }
    }
    rest += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let newline = rest.indexOf("\n"); newline !== -1; newline = rest.indexOf("\n", start)) {
      yield [rest.slice(start, newline), "\n"];
      start = newline + 1;
    }
    rest = rest.slice(start);
  }
  rest += decoder.decode();
  if (validUtf8) {
    try {
      strict.decode();
    } catch {
      validUtf8 = false;
    }
  }
  if (rest !== "") yield [rest, ""];
  onEnd(raw.digest("hex"), validUtf8);
}
