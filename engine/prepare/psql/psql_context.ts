/**
 * What the scanner of a psql input (`psql_scan.ts`) and the keying of the files it names
 * (`psql_data_keys.ts`) share while one input is expanded: the content stream being hashed, the files
 * read, and how messages name a source.
 *
 * @module
 */

import { isAbsolute, relative } from "node:path";
import type { RecordHasher } from "../fingerprint.ts";

/** A line without its end of line, and that end of line ("\n", or "" at the end of the input). */
export type Line = [string, string];

/** A backslash command of an input: its name, the rest of its line, and the input it is in. */
export interface PsqlMetaCommand {
  name: string;
  argument: string;
  where: string;
}

/** The state of one expansion. */
export interface Context {
  workDir: string;
  hasher: RecordHasher;
  /** Text not yet written as a record. */
  pending: string;
  /** Every file read, with the SHA-256 of its bytes. */
  files: Map<string, string>;
  /** The files being expanded, outermost first, for cycle detection. */
  stack: Array<{ real: string; display: string }>;
  /** Every backslash command met so far, includes expanded, in order. */
  metaCommands: PsqlMetaCommand[];
  /** Expands the file an include names (`written`, resolved to `path`) in place of the include. */
  include(source: Source, written: string, path: string): Promise<void>;
}

/** One input being scanned: the `-f` file, an included file, stdin or `-c` SQL. */
export interface Source {
  /** Absolute path, or null for stdin and `-c`. */
  path: string | null;
  label: string;
}

/** Writes the pending text as a record. */
export function flush(ctx: Context): void {
  if (ctx.pending !== "") ctx.hasher.add("text", ctx.pending);
  ctx.pending = "";
}

/** Writes a record after the text before it. */
export function record(ctx: Context, key: string, value: string): void {
  flush(ctx);
  ctx.hasher.add(key, value);
}

/** `path` as messages show it: relative to the work directory when it is under it. */
export function display(ctx: Context, path: string): string {
  const rel = relative(ctx.workDir, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

/** How messages name the source a command is in. */
export function includerName(source: Source): string {
  return source.path === null ? source.label : `"${source.path}"`;
}
