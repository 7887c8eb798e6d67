/**
 * Which file arguments are URLs: the client passes them on as they are, and the engine fetches them
 * (`engine/sources/url_inputs.ts`).
 *
 * @module
 */

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
