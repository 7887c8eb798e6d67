/**
 * The sqlrs version, from `deno.json` (a static import, so bundles and compiled binaries carry it).
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };

/** This build's version. */
export const VERSION: string = denoJson.version;

/** The request header in which a client names its version. */
export const VERSION_HEADER = "x-sqlrs-version";

/** Whether a client and an engine of these versions understand each other: the same major version. */
export function compatibleVersions(a: string, b: string): boolean {
  return a.split(".")[0] === b.split(".")[0];
}
