/**
 * The npm packages shared code and the library reach, by full specifier and version, written once here.
 * A program that imports `mod.ts` by path from outside this repository has none of our import map, so a
 * bare name like "zod" would not resolve in any module `mod.ts` reaches.
 *
 * @module
 */

export { z } from "npm:zod@4.6.7";

/** The YAML parser, loaded on first use (most commands never read YAML). */
export function loadYaml(): Promise<typeof import("npm:yaml@2.9.1")> {
  // deno-lint-ignore no-import-prefix -- mod.ts's graph must resolve without our deno.json (see above).
  return import("npm:yaml@2.9.1");
}
