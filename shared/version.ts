/**
 * The sqlrs version, from `deno.json` (a static import, so bundles and compiled binaries carry it).
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };

/** This build's version. */
export const VERSION: string = denoJson.version;
