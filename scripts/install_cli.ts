/**
 * `deno task install-cli [--bin DIR]`: puts a `sqlrs` command in DIR (default `~/.local/bin`) that
 * runs this checkout's CLI with the Deno running this script, by its absolute path. So a user whose
 * only Deno is `npx -y deno@…` gets a `sqlrs` that works in any shell, with no `deno` on PATH (unlike
 * `deno install`, whose command runs `deno` by name). Should npm clear the npx cache that holds that
 * Deno, the command fetches the same version through npx again.
 *
 * @module
 */

import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The shell script of the command. */
export function launcher(deno: string, denoVersion: string, main: string): string {
  const run = `run -A --quiet ${shellQuote(main)} "$@"`;
  return `#!/bin/sh
# sqlrs from ${main}, written by "deno task install-cli".
# It runs the Deno that installed it; if npm has removed that one, npx brings Deno ${denoVersion} again.
if [ -x ${shellQuote(deno)} ]; then exec ${shellQuote(deno)} ${run}; fi
exec npx -y deno@${denoVersion} ${run}
`;
}

function binDir(args: readonly string[]): string {
  const at = args.indexOf("--bin");
  if (at !== -1 && args[at + 1] !== undefined) return resolve(args[at + 1] as string);
  const home = Deno.env.get("HOME");
  if (home === undefined) throw new Error("Cannot choose where to install: HOME is not set; pass --bin DIR");
  return join(home, ".local", "bin");
}

if (import.meta.main) {
  const dir = binDir(Deno.args);
  const main = join(dirname(dirname(fileURLToPath(import.meta.url))), "cli", "main.ts");
  await Deno.mkdir(dir, { recursive: true });
  const target = join(dir, "sqlrs");
  await Deno.writeTextFile(target, launcher(Deno.execPath(), Deno.version.deno, main), { mode: 0o755 });
  await Deno.chmod(target, 0o755);
  console.log(`installed ${target}`);
  const onPath = (Deno.env.get("PATH") ?? "").split(delimiter).includes(dir);
  if (!onPath) console.log(`${dir} is not on PATH: add it, e.g. export PATH="${dir}:$PATH"`);
}
