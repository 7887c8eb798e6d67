/**
 * Which file arguments are URLs, and how one is fetched: a prepare's are passed on as they are and
 * fetched by the engine (`engine/sources/url_inputs.ts`); a run's scripts are fetched by the client,
 * which sends every run script as text.
 *
 * @module
 */

import { invalidArgument, messageOf } from "./errors.ts";

/**
 * Whether a file argument is a URL (`scheme://…`) rather than a path.
 *
 * @example
 * ```ts
 * import { isUrlInput } from "./url_input.ts";
 * if (!isUrlInput("https://example.com/a.sql") || isUrlInput("dir/a.sql")) throw new Error("unexpected");
 * ```
 */
export function isUrlInput(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
}

/**
 * Fetches a file given as a URL: https only (its content cannot be changed in transit), trusting the
 * system's certificate authorities and `DENO_CERT`'s. Resolves with a response whose body is there.
 * @throws {SqlrsError} `invalid_argument` for another scheme, a failed request or a status other than 2xx
 */
export async function fetchFileUrl(
  url: string,
  timeoutMs = 60_000,
): Promise<Response & { body: ReadableStream }> {
  if (!url.toLowerCase().startsWith("https://")) {
    throw invalidArgument(`Cannot fetch "${url}": only https:// URLs are accepted as files`, { url });
  }
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error
      ? error.cause.message
      : messageOf(error);
    const why = cause.replace(/^error sending request for url \([^)]*\): /, "");
    throw invalidArgument(`Cannot fetch "${url}": ${why}`, { url });
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw invalidArgument(`Cannot fetch "${url}": the server answered ${response.status}`, { url });
  }
  return response as Response & { body: ReadableStream };
}
