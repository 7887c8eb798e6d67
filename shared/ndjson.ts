/**
 * NDJSON over web streams: one JSON value per line.
 *
 * @module
 */

/** Encodes objects as NDJSON text, one per line. */
export class NdjsonStringifyStream<T> extends TransformStream<T, string> {
  constructor() {
    super({ transform: (value, controller) => controller.enqueue(`${JSON.stringify(value)}\n`) });
  }
}

/** Splits text into lines across chunk boundaries, flushing the last partial line. */
export class TextLineStream extends TransformStream<string, string> {
  constructor() {
    let pending = "";
    super({
      transform(chunk, controller) {
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) controller.enqueue(line.endsWith("\r") ? line.slice(0, -1) : line);
      },
      flush(controller) {
        if (pending !== "") controller.enqueue(pending);
      },
    });
  }
}

/** Parses NDJSON lines into values, skipping blank lines. A bad line throws a SyntaxError with an excerpt. */
export class NdjsonParseStream extends TransformStream<string, unknown> {
  constructor() {
    super({
      transform(line, controller) {
        if (line.trim() === "") return;
        try {
          controller.enqueue(JSON.parse(line));
        } catch (error) {
          throw new SyntaxError(
            `Cannot parse NDJSON line "${line.slice(0, 80)}": ${(error as Error).message}`,
          );
        }
      },
    });
  }
}

/** Reads an NDJSON byte stream as parsed values. */
export function parseNdjson(body: ReadableStream<Uint8Array>): ReadableStream<unknown> {
  return body.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream()).pipeThrough(
    new NdjsonParseStream(),
  );
}
