/**
 * Liquibase's defaults file (`--defaults-file`, or `liquibase.properties` in the work dir): a Java
 * properties file whose keys set options, checked like the options themselves.
 *
 * @module
 */

import { invalidArgument } from "../../../shared/errors.ts";
import { COMMANDS, lookup, normalizeName } from "./lb_options.ts";

/** Reads a Java properties file: `key=value`, `key: value` or `key value`; `#`/`!` comments; `\` joins lines. */
export function parseProperties(text: string): Map<string, string> {
  const result = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = (lines[i] as string).replace(/^\s+/, "");
    if (line === "" || line.startsWith("#") || line.startsWith("!")) continue;
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) {
      line = line.slice(0, -1) + (lines[++i] as string).replace(/^\s+/, "");
    }
    const match = /^((?:\\.|[^=:\s\\])*)\s*[=:\s]?\s*(.*)$/.exec(line);
    if (match === null) continue;
    const unescape = (s: string) =>
      s.replace(/\\(.)/g, (_, c: string) => ({ t: "\t", n: "\n", r: "\r" })[c] ?? c);
    result.set(unescape(match[1] as string), unescape(match[2] as string));
  }
  return result;
}

/** The option a defaults-file key sets: `liquibase.command.update.url` → `url`, `hub.mode` → `hubmode`. */
function defaultsKeyName(key: string): string {
  let k = key.toLowerCase();
  if (k.startsWith("liquibase.command.")) {
    k = k.slice("liquibase.command.".length);
    const dot = k.indexOf(".");
    if (dot !== -1 && COMMANDS.has(normalizeName(k.slice(0, dot)))) k = k.slice(dot + 1);
  } else if (k.startsWith("liquibase.")) {
    k = k.slice("liquibase.".length);
  }
  return normalizeName(k);
}

/** What a defaults file sets that sqlrs must know (the search and filter values). */
export interface DefaultsFileValues {
  changelogFile: string | null;
  searchPath: string | null;
  classpath: string | null;
  contexts: string | null;
  labels: string | null;
}

/** Defaults-file keys that the connection sqlrs passes overrides, so they are ignored, not refused. */
const OVERRIDDEN_IN_DEFAULTS = new Set(["url", "username", "password"]);

/** Reads a defaults file's values, refusing any key sqlrs refuses as an option. */
export function checkDefaultsFile(path: string, text: string): DefaultsFileValues {
  const values: DefaultsFileValues = {
    changelogFile: null,
    searchPath: null,
    classpath: null,
    contexts: null,
    labels: null,
  };
  for (const [key, value] of parseProperties(text)) {
    if (key.toLowerCase().startsWith("parameter.")) continue;
    const spec = lookup(defaultsKeyName(key));
    if (spec === null) continue;
    const t = spec.treatment;
    // sqlrs's --url/--username (command line) and password (environment) take precedence over these.
    if (OVERRIDDEN_IN_DEFAULTS.has(spec.canonical)) continue;
    if (spec.canonical === "driver" && value.trim() === "org.postgresql.Driver") continue;
    if (t.kind === "refused") {
      throw invalidArgument(`Liquibase defaults file ${path} sets ${key}, which sqlrs refuses: ${t.reason}`, {
        file: path,
        key,
      });
    }
    if (t.kind === "changelog") values.changelogFile = value.trim();
    if (t.kind === "searchPath") values.searchPath = value.trim();
    if (t.kind === "classpath") values.classpath = value.trim();
    if (t.kind === "contexts") values.contexts = value.trim();
    if (t.kind === "labels") values.labels = value.trim();
  }
  return values;
}
