/**
 * The argv that starts an engine from a given copy of sqlrs: a local checkout runs its own
 * `engine/main.ts`; a copy loaded from JSR runs the package's `./cli` export as `engine serve`, because
 * a JSR file run by URL would not see the package's import map.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

const JSR_FILE = /^https:\/\/jsr\.io\/(@[^/]+\/[^/]+)\/([^/]+)\//;

/**
 * What `deno run` needs to run the sqlrs CLI module at `mainModule`: a path for a file URL, the
 * package's `./cli` export for a file of a JSR package, else the URL itself.
 *
 * @example
 * ```ts
 * import { cliRunTarget } from "./engine_command.ts";
 * const local = cliRunTarget("file:///opt/sqlrs/cli/main.ts");
 * if (local !== "/opt/sqlrs/cli/main.ts") throw new Error("unexpected");
 * const jsr = cliRunTarget("https://jsr.io/@sqlrs/sqlrs/0.1.0/cli/main.ts");
 * if (jsr !== "jsr:@sqlrs/sqlrs@0.1.0/cli") throw new Error("unexpected");
 * ```
 */
export function cliRunTarget(mainModule: string): string {
  const jsr = JSR_FILE.exec(mainModule);
  if (jsr !== null) return `jsr:${jsr[1]}@${jsr[2]}/cli`;
  return mainModule.startsWith("file:") ? fileURLToPath(mainModule) : mainModule;
}

/**
 * The command that starts an engine of the sqlrs copy that `moduleUrl` (any file of it) belongs to.
 *
 * @param moduleUrl the URL of a module directly under the package root's `client/` folder
 * @example
 * ```ts
 * import { engineCommandFor } from "./engine_command.ts";
 * const local = engineCommandFor("file:///src/sqlrs/client/engine_command.ts");
 * if (local.at(-1) !== "/src/sqlrs/engine/main.ts") throw new Error("unexpected");
 * const jsr = engineCommandFor("https://jsr.io/@sqlrs/sqlrs/0.1.0/client/engine_command.ts");
 * if (jsr.slice(-3).join(" ") !== "jsr:@sqlrs/sqlrs@0.1.0/cli engine serve") throw new Error("unexpected");
 * ```
 */
export function engineCommandFor(moduleUrl: string): string[] {
  const run = [Deno.execPath(), "run", "-A", "--quiet"];
  if (JSR_FILE.test(moduleUrl)) return [...run, cliRunTarget(moduleUrl), "engine", "serve"];
  const engine = new URL("../engine/main.ts", moduleUrl);
  return [...run, engine.protocol === "file:" ? fileURLToPath(engine) : engine.href];
}

/** The argv that starts an engine of this copy of sqlrs. */
export function moduleEngineCommand(): string[] {
  return engineCommandFor(import.meta.url);
}
