/**
 * Content expansion of a psql input: what a step's cache key must cover beyond the input's own text.
 *
 * The input is scanned the way psql scans it (src/fe_utils/psqlscan.l, src/bin/psql/psqlscanslash.l):
 * backslash meta-commands are recognised anywhere outside string literals, quoted identifiers,
 * dollar quotes and comments, not only at the start of a line; their arguments end at the end of
 * the line or at the next unquoted backslash. Inline `COPY … FROM STDIN` data (up to `\.`) is hashed
 * but never taken for commands. Then:
 *
 * - `\i`, `\include`, `\ir`, `\include_relative` are replaced by the included file's expanded
 *   content between two `include-boundary` records, depth-first. `\i` resolves against `workDir` (the
 *   directory psql runs in), `\ir` against the including file's directory (`workDir` for stdin and
 *   `-c`). The command's spelling and path do not enter the hash: only content does.
 * - `\copy … from <file>` and `\lo_import <file>` stay in the text, followed by a `data` record with
 *   the SHA-256 of the file's bytes, so that editing a data file changes the key. So do the files the
 *   server reads: `COPY … FROM '/abs/file'` (an absolute path the engine can read: the host runtime's
 *   server sees the same filesystem; a container must have it mounted at the same path).
 * - A program's output (`\copy … from program '…'`, `COPY … FROM PROGRAM '…'`) is keyed by the
 *   program's text and the content of every file its command line names (`cat data.csv`,
 *   `gunzip -c data.csv.gz`); a program that names no file is refused, since its output cannot be
 *   known in advance.
 *
 * What sqlrs cannot key is refused rather than silently missed: paths built from psql variables,
 * backquoted shell commands or `~`, `\i -` (stdin), `\cd`, a server-side COPY from a relative path
 * or a file the engine cannot read. Known limits: all `\if` branches are expanded; string literals
 * are scanned as with `standard_conforming_strings` on (the default); what functions read on the
 * server (`pg_read_file`, `lo_import()`, foreign tables) and the output of `\!` and backquotes are
 * not keyed.
 *
 * @module
 */

import { resolve } from "node:path";
import { invalidArgument, messageOf } from "../../../shared/errors.ts";
import { RecordHasher, toHex } from "../fingerprint.ts";
import { fileDigest } from "../file_digests.ts";
import {
  type Context,
  display,
  flush,
  includerName,
  type Line,
  type PsqlMetaCommand,
  record,
  type Source,
} from "./psql_context.ts";
import { unreadableReason } from "./psql_data_keys.ts";
import { fileLines, textLines } from "./psql_lines.ts";
import { endStatement, newScan, scanLine } from "./psql_scan.ts";

const encoder = new TextEncoder();

/** Version of the content stream's layout; changing it changes every psql content hash. */
export const CONTENT_SCHEMA_VERSION = "sqlrs-psql-content-v1";

/** One psql input to expand. */
export interface ExpandPsqlInput {
  /** The input's text (`-c`, stdin); ignored for a file, which is read from `origin` as a stream. */
  text?: string;
  /** Absolute path of the input file; null for `-c` SQL and for stdin. */
  origin: string | null;
  /** The directory psql runs in: plain `\i` and `\copy` paths resolve against it. */
  workDir: string;
  /** How messages name an input that is not a file, e.g. "stdin"; "the SQL text" by default. */
  label?: string;
}

/** The hash of an input's expanded content, and every file it read. */
export interface ExpandedPsqlContent {
  /** SHA-256 (hex) over the expanded content stream. */
  contentHash: string;
  /** Every absolute file read (the origin first), to check after running that none changed. */
  files: string[];
  /** Every backslash command met, includes expanded, in order (a remote engine refuses some). */
  metaCommands: PsqlMetaCommand[];
}

/**
 * Expands `\i`-style includes recursively and keys the data files of `\copy … from` and
 * `\lo_import`; the hash covers content, never paths or spelling. Bad or unkeyable input throws an
 * `invalid_argument` error.
 */
export async function expandPsqlContent(input: ExpandPsqlInput): Promise<ExpandedPsqlContent> {
  // Every warm prepare plans again, and scanning a large script costs tens of ms (Chinook: 40-65 ms)
  // while hashing it costs a few: reuse the last expansion of the same input when every file it read
  // still has the same bytes.
  const textKey = input.origin !== null ? "" : await sha256(encoder.encode(input.text ?? ""));
  const key = `${resolve(input.workDir)}\0${input.origin ?? ""}\0${textKey}`;
  const cached = expansions.get(key);
  if (cached !== undefined && await unchanged(cached.fileDigests)) return cached.result;
  const { result, fileDigests } = await expandUncached(input);
  expansions.delete(key);
  expansions.set(key, { result, fileDigests });
  if (expansions.size > 64) expansions.delete(expansions.keys().next().value as string);
  return result;
}

const expansions = new Map<string, { result: ExpandedPsqlContent; fileDigests: Map<string, string> }>();

async function unchanged(digests: ReadonlyMap<string, string>): Promise<boolean> {
  for (const [file, digest] of digests) {
    try {
      if (await fileDigest(file) !== digest) return false;
    } catch {
      return false;
    }
  }
  return true;
}

async function expandUncached(
  input: ExpandPsqlInput,
): Promise<{ result: ExpandedPsqlContent; fileDigests: Map<string, string> }> {
  const workDir = resolve(input.workDir);
  const hasher = new RecordHasher();
  hasher.add("content-schema", CONTENT_SCHEMA_VERSION);
  const ctx: Context = {
    workDir,
    hasher,
    pending: "",
    files: new Map(),
    stack: [],
    metaCommands: [],
    include: (source, written, path) => includeFile(ctx, source, written, path),
  };
  if (input.origin === null) {
    await expandSource(
      ctx,
      { path: null, label: input.label ?? "the SQL text" },
      textLines(input.text ?? ""),
    );
  } else {
    const path = resolve(workDir, input.origin);
    await expandFile(ctx, path, `Cannot read "${path}"`, { path, label: display(ctx, path) });
  }
  flush(ctx);
  const result = {
    contentHash: hasher.digest(),
    files: [...ctx.files.keys()],
    metaCommands: ctx.metaCommands,
  };
  return { result, fileDigests: ctx.files };
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", bytes));
}

/**
 * Expands a file the input depends on (the `-f` file or an include) as a stream of lines, refusing an
 * include cycle; its digest is recorded, and its raw bytes keyed when they are not valid UTF-8.
 * `what` starts the error message; `written` is how an include named the file.
 */
async function expandFile(
  ctx: Context,
  path: string,
  what: string,
  source: Source,
  written = path,
): Promise<void> {
  const reason = await unreadableReason(path);
  if (reason !== null) throw invalidArgument(`${what}: ${reason}`, { path });
  let file: Deno.FsFile;
  let real: string;
  try {
    real = await Deno.realPath(path);
    file = await Deno.open(path);
  } catch (error) {
    throw invalidArgument(`${what}: ${messageOf(error)}`, { path });
  }
  if (ctx.stack.some((entry) => entry.real === real)) {
    file.close();
    const chain = [...ctx.stack.map((entry) => entry.display), source.label].join(" -> ");
    throw invalidArgument(`Cannot include "${written}": include cycle ${chain}`, { path });
  }
  // Listed before the files it includes.
  if (!ctx.files.has(path)) ctx.files.set(path, "");
  ctx.stack.push({ real, display: source.label });
  let bytesDigest = "";
  let validUtf8 = true;
  await expandSource(
    ctx,
    source,
    fileLines(file, (digest, valid) => {
      bytesDigest = digest;
      validUtf8 = valid;
    }),
  );
  ctx.stack.pop();
  ctx.files.set(path, bytesDigest);
  if (!validUtf8) record(ctx, "bytes", bytesDigest);
}

/** Pending text is written as a record once it is this long (at a line's end), so memory stays flat. */
const PENDING_LIMIT = 1 << 20;

async function expandSource(
  ctx: Context,
  source: Source,
  lines: Iterable<Line> | AsyncIterable<Line>,
): Promise<void> {
  const scan = newScan();
  for await (const [line, eol] of lines) {
    await scanLine(ctx, source, scan, line, eol);
    if (ctx.pending.length > PENDING_LIMIT) flush(ctx);
  }
  // psql sends an unterminated last statement at the end of its input.
  await endStatement(ctx, source, scan);
}

async function includeFile(ctx: Context, source: Source, written: string, path: string): Promise<void> {
  record(ctx, "include-boundary", "begin");
  const what = `Cannot include "${written}" from ${includerName(source)}`;
  await expandFile(ctx, path, what, { path, label: display(ctx, path) }, written);
  record(ctx, "include-boundary", "end");
}
