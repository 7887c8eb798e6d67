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

import { createHash } from "node:crypto";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { invalidArgument, messageOf } from "../../shared/errors.ts";
import { RecordHasher, sha256File, toHex } from "./fingerprint.ts";
import { copySource, programWords, serverCopySource } from "./psql_copy.ts";

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

/** A backslash command of an input: its name, the rest of its line, and the input it is in. */
export interface PsqlMetaCommand {
  name: string;
  argument: string;
  where: string;
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
      if (await sha256File(file) !== digest) return false;
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
  const ctx: Context = { workDir, hasher, pending: "", files: new Map(), stack: [], metaCommands: [] };
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

/** The lines of a text, each with its end of line ("" for a last line without one). */
function* textLines(text: string): Generator<Line> {
  let start = 0;
  while (start < text.length) {
    const newline = text.indexOf("\n", start);
    const end = newline === -1 ? text.length : newline;
    yield [text.slice(start, end), newline === -1 ? "" : "\n"];
    start = end + 1;
  }
}

/**
 * The lines of a file read as a stream (memory stays flat whatever its size), while its raw bytes are
 * hashed; `onEnd` gets that digest and whether the bytes were valid UTF-8 (when not, the decoded text
 * lost information and the raw bytes must be keyed too).
 */
async function* fileLines(
  file: Deno.FsFile,
  onEnd: (digest: string, validUtf8: boolean) => void,
): AsyncGenerator<Line> {
  const raw = createHash("sha256");
  const decoder = new TextDecoder();
  const strict = new TextDecoder("utf-8", { fatal: true });
  let validUtf8 = true;
  let rest = "";
  for await (const chunk of file.readable) {
    raw.update(chunk);
    if (validUtf8) {
      try {
        strict.decode(chunk, { stream: true });
      } catch {
        validUtf8 = false;
      }
    }
    rest += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let newline = rest.indexOf("\n"); newline !== -1; newline = rest.indexOf("\n", start)) {
      yield [rest.slice(start, newline), "\n"];
      start = newline + 1;
    }
    rest = rest.slice(start);
  }
  rest += decoder.decode();
  if (validUtf8) {
    try {
      strict.decode();
    } catch {
      validUtf8 = false;
    }
  }
  if (rest !== "") yield [rest, ""];
  onEnd(raw.digest("hex"), validUtf8);
}

/** A line without its end of line, and that end of line ("\n", or "" at the end of the input). */
type Line = [string, string];

interface Context {
  workDir: string;
  hasher: RecordHasher;
  /** Text not yet written as a record. */
  pending: string;
  /** Every file read, with the SHA-256 of its bytes. */
  files: Map<string, string>;
  /** The files being expanded, outermost first, for cycle detection. */
  stack: Array<{ real: string; display: string }>;
  metaCommands: PsqlMetaCommand[];
}

interface Source {
  /** Absolute path, or null for stdin and `-c`. */
  path: string | null;
  label: string;
}

/** The SQL lexer's state between characters (and lines) of one source. */
type LexState =
  | { kind: "sql" }
  | { kind: "comment"; depth: number }
  | { kind: "string"; escapes: boolean }
  | { kind: "ident" }
  | { kind: "dollar"; tag: string };

interface Scan {
  state: LexState;
  parenDepth: number;
  /** The current statement's SQL text, kept only while it may be a `COPY`. */
  statement: string;
  statementKind: "unknown" | "copy" | "other";
  /** Lines are inline COPY data until a `\.` line. */
  copyData: boolean;
  /** Inline COPY data starts on the next line. */
  copyPending: boolean;
}

const encoder = new TextEncoder();
const SQL: LexState = { kind: "sql" };
const INCLUDES = new Set(["i", "include", "ir", "include_relative"]);
const RELATIVE_INCLUDES = new Set(["ir", "include_relative"]);
/** Commands whose argument is the rest of the line, backslashes included. */
const WHOLE_LINE = new Set(["!", "h", "help", "ef", "ev", "sf", "sf+", "sv", "sv+"]);
/** Commands whose argument is the rest of the line when it starts with `|`. */
const FILE_PIPE = new Set(["g", "gx", "o", "out", "w", "write"]);
/** Commands that send the query buffer, as `;` does. */
const SENDS_QUERY = new Set(["g", "gx", "gset", "gexec"]);
const VARIABLE =
  /:(?:[A-Za-z0-9_\u0080-\uffff]+|'[A-Za-z0-9_\u0080-\uffff]+'|"[A-Za-z0-9_\u0080-\uffff]+"|\{\?[A-Za-z0-9_\u0080-\uffff]+\})/y;
const SQL_VARIABLE = /:(?:'[A-Za-z0-9_\u0080-\uffff]+'|"[A-Za-z0-9_\u0080-\uffff]+")/y;
const STRING_STOP = /'/g;
const ESCAPE_STRING_STOP = /['\\]/g;
const SPECIAL = /[-\/'"$:\\();]/g;
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f";
}

function isIdentStart(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z_\u0080-\uffff]/.test(c);
}

function isIdentCont(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
}

function flush(ctx: Context): void {
  if (ctx.pending !== "") ctx.hasher.add("text", ctx.pending);
  ctx.pending = "";
}

/** Writes a record after the text before it. */
function record(ctx: Context, key: string, value: string): void {
  flush(ctx);
  ctx.hasher.add(key, value);
}

/** Pending text is written as a record once it is this long (at a line's end), so memory stays flat. */
const PENDING_LIMIT = 1 << 20;

function display(ctx: Context, path: string): string {
  const rel = relative(ctx.workDir, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

function includerName(source: Source): string {
  return source.path === null ? source.label : `"${source.path}"`;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", bytes));
}

/** Why `path` cannot be read as a file ("file not found", …), or null when it can; never throws. */
export async function unreadableReason(path: string): Promise<string | null> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? null : "not a regular file";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "file not found";
    if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
    return messageOf(error);
  }
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

async function hashDataFile(ctx: Context, path: string, what: string): Promise<string> {
  const reason = await unreadableReason(path);
  if (reason !== null) throw invalidArgument(`${what}: ${reason}`, { path });
  try {
    const digest = await sha256File(path);
    ctx.files.set(path, digest);
    return digest;
  } catch (error) {
    throw invalidArgument(`${what}: ${messageOf(error)}`, { path });
  }
}

async function expandSource(
  ctx: Context,
  source: Source,
  lines: Iterable<Line> | AsyncIterable<Line>,
): Promise<void> {
  const scan: Scan = {
    state: SQL,
    parenDepth: 0,
    statement: "",
    statementKind: "unknown",
    copyData: false,
    copyPending: false,
  };
  for await (const [line, eol] of lines) {
    await scanLine(ctx, source, scan, line, eol);
    if (ctx.pending.length > PENDING_LIMIT) flush(ctx);
  }
  // psql sends an unterminated last statement at the end of its input.
  await endStatement(ctx, source, scan);
}

/** Ends the current statement: a COPY's inline data follows, or what the server will read is keyed. */
async function endStatement(ctx: Context, source: Source, scan: Scan): Promise<void> {
  if (scan.statementKind === "copy") {
    if (/\bfrom\s+stdin\b/i.test(scan.statement)) scan.copyPending = true;
    else await keyServerCopy(ctx, source, scan.statement);
  }
  scan.statement = "";
  scan.statementKind = "unknown";
}

/** Keys the file or program a server-side `COPY … FROM` reads, or refuses what cannot be keyed. */
async function keyServerCopy(ctx: Context, source: Source, statement: string): Promise<void> {
  const copy = serverCopySource(statement);
  const where = `COPY … FROM in ${includerName(source)}`;
  const howToKey = `load the data with \\copy … from 'file' instead, which sqlrs keys by the file's content`;
  if (copy.kind === "none") return;
  if (copy.kind === "unknown") {
    throw invalidArgument(`Cannot key ${where}: sqlrs cannot tell what it reads; ${howToKey}`);
  }
  if (copy.kind === "file") {
    if (!isAbsolute(copy.path)) {
      throw invalidArgument(
        `Cannot key ${where}: the server resolves "${copy.path}" against its data directory; ${howToKey}`,
      );
    }
    const reason = await unreadableReason(copy.path);
    if (reason !== null) {
      throw invalidArgument(
        `Cannot key ${where}: "${copy.path}": ${reason} (the engine must read it too); ${howToKey}`,
      );
    }
    await keyDataFile(ctx, source, "COPY … FROM", copy.path);
    return;
  }
  await keyProgram(
    ctx,
    source,
    "COPY … FROM PROGRAM",
    copy.command,
    (word) => isAbsolute(word) ? word : null,
  );
}

/**
 * Keys a program's output by its text and every file its command line names; `locate` maps a word to
 * the path it would name (null: not a path this program can mean). A program naming no file is refused.
 */
async function keyProgram(
  ctx: Context,
  source: Source,
  command: string,
  program: string,
  locate: (word: string) => string | null,
): Promise<void> {
  const files: string[] = [];
  for (const word of programWords(program)) {
    const path = locate(word);
    if (path !== null && await unreadableReason(path) === null) files.push(path);
  }
  if (files.length === 0) {
    throw invalidArgument(
      `Cannot key ${command} '${program.slice(0, 200)}' in ${includerName(source)}: sqlrs keys a program ` +
        `by the files its command line names, and this one names none (e.g. 'cat /abs/data.csv' or ` +
        `'gunzip -c data.csv.gz'); or load the data with \\copy … from 'file'`,
    );
  }
  record(ctx, "program", program);
  for (const file of files) {
    record(ctx, "data", await hashDataFile(ctx, file, `Cannot read "${file}" for ${command}`));
  }
}

function addStatementText(scan: Scan, text: string): void {
  if (scan.statementKind === "other") return;
  scan.statement += text;
  if (scan.statementKind === "unknown") {
    const head = scan.statement.trimStart();
    if (head.length >= 5) {
      scan.statementKind = /^copy[^A-Za-z0-9_$\u0080-\uffff]/i.test(head) ? "copy" : "other";
    }
  }
}

/** Scans one line (without its newline, `eol`), appending it to the stream with its includes expanded. */
async function scanLine(ctx: Context, source: Source, scan: Scan, line: string, eol: string): Promise<void> {
  if (scan.copyData) {
    ctx.pending += line + eol;
    if (line === "\\." || line === "\\.\r") scan.copyData = false;
    return;
  }
  let i = 0;
  let copied = 0;
  while (i < line.length) {
    const state = scan.state;
    if (state.kind === "comment") {
      const open = line.indexOf("/*", i);
      const close = line.indexOf("*/", i);
      if (open !== -1 && (close === -1 || open < close)) {
        state.depth++;
        i = open + 2;
      } else if (close !== -1) {
        if (state.depth === 0) scan.state = SQL;
        else state.depth--;
        i = close + 2;
      } else {
        i = line.length;
      }
      continue;
    }
    if (state.kind === "string") {
      const end = closeString(scan, state.escapes, line, i);
      // A COPY's file or program is a literal: keep it for serverCopySource().
      if (scan.statementKind === "copy") scan.statement += line.slice(i, end);
      i = end;
      continue;
    }
    if (state.kind === "ident") {
      const close = line.indexOf('"', i);
      if (close === -1) i = line.length;
      else if (line[close + 1] === '"') i = close + 2;
      else {
        scan.state = SQL;
        i = close + 1;
      }
      continue;
    }
    if (state.kind === "dollar") {
      const close = line.indexOf(state.tag, i);
      if (close === -1) i = line.length;
      else {
        scan.state = SQL;
        i = close + state.tag.length;
      }
      continue;
    }
    if (scan.statementKind === "other") {
      // Fast path: nothing but the characters below can change the lexer's state.
      SPECIAL.lastIndex = i;
      const special = SPECIAL.exec(line)?.index ?? line.length;
      if (special > i) {
        i = special;
        continue;
      }
    }
    const c = line[i];
    const next = line[i + 1];
    if (c === "-" && next === "-") {
      i = line.length;
    } else if (c === "/" && next === "*") {
      scan.state = { kind: "comment", depth: 0 };
      i += 2;
    } else if (c === "'") {
      // E'…' (backslash escapes) only when the E starts its own token.
      const escapes = (line[i - 1] === "E" || line[i - 1] === "e") && !isIdentCont(line[i - 2]);
      scan.state = { kind: "string", escapes };
      addStatementText(scan, scan.statementKind === "copy" ? "'" : " ");
      i++;
    } else if (c === '"') {
      scan.state = { kind: "ident" };
      addStatementText(scan, " ");
      i++;
    } else if (c === "$" && !inIdentifier(line, i)) {
      DOLLAR_TAG.lastIndex = i;
      const tag = DOLLAR_TAG.exec(line)?.[0];
      if (tag !== undefined) scan.state = { kind: "dollar", tag };
      addStatementText(scan, tag === undefined ? "$" : " ");
      i += tag === undefined ? 1 : tag.length;
    } else if (c === ":") {
      SQL_VARIABLE.lastIndex = i;
      const variable = next === ":" ? "::" : SQL_VARIABLE.exec(line)?.[0] ?? ":";
      addStatementText(scan, variable);
      i += variable.length;
    } else if (c === "\\" && (next === ";" || next === ":")) {
      addStatementText(scan, next);
      i += 2;
    } else if (c === "\\") {
      ctx.pending += line.slice(copied, i);
      const end = await metaCommand(ctx, source, scan, line, i);
      copied = end.copied;
      i = end.next;
    } else {
      if (c === "(") scan.parenDepth++;
      else if (c === ")" && scan.parenDepth > 0) scan.parenDepth--;
      if (c === ";" && scan.parenDepth === 0) {
        addStatementText(scan, ";");
        await endStatement(ctx, source, scan);
      } else {
        addStatementText(scan, c ?? "");
      }
      i++;
    }
  }
  ctx.pending += line.slice(copied) + eol;
  if (scan.state.kind === "sql") addStatementText(scan, "\n");
  if (scan.copyPending) {
    scan.copyPending = false;
    scan.copyData = true;
  }
}

/** Whether the `$` at `i` continues an identifier (identifiers may contain `$`). */
function inIdentifier(line: string, i: number): boolean {
  let j = i;
  while (j > 0 && isIdentCont(line[j - 1])) j--;
  return j < i && isIdentStart(line[j]);
}

/** Scans a string literal from `i`; returns where scanning goes on. */
function closeString(scan: Scan, escapes: boolean, line: string, i: number): number {
  const stop = escapes ? ESCAPE_STRING_STOP : STRING_STOP;
  stop.lastIndex = i;
  for (let match = stop.exec(line); match !== null; match = stop.exec(line)) {
    const j = match.index;
    if (line[j] === "\\") stop.lastIndex = j + 2;
    else if (line[j + 1] === "'") stop.lastIndex = j + 2;
    else {
      scan.state = SQL;
      return j + 1;
    }
  }
  return line.length;
}

/** One argument of a backslash command, as psql lexes it. */
interface SlashArg {
  value: string;
  quoted: boolean;
  /** Characters at the end that no quoting covered (psql strips `;` from them). */
  unquotedTail: number;
  usesVariable: boolean;
  usesBacktick: boolean;
  unterminated: boolean;
}

/** Lexes one argument from `pos` (psql's OT_NORMAL); null when the command has no more. */
function slashArg(line: string, pos: number): { arg: SlashArg | null; pos: number } {
  let p = pos;
  while (p < line.length && isSpace(line[p])) p++;
  const arg: SlashArg = {
    value: "",
    quoted: false,
    unquotedTail: 0,
    usesVariable: false,
    usesBacktick: false,
    unterminated: false,
  };
  while (p < line.length) {
    const c = line[p] ?? "";
    if (isSpace(c) || c === "\\") break;
    if (c === "'") {
      arg.quoted = true;
      arg.unquotedTail = 0;
      const quoted = singleQuoted(line, p + 1);
      arg.value += quoted.value;
      p = quoted.end;
      if (quoted.unterminated) {
        arg.unterminated = true;
        break;
      }
    } else if (c === "`" || c === '"') {
      const close = line.indexOf(c, p + 1);
      arg.quoted = true;
      arg.unquotedTail = 0;
      if (c === "`") arg.usesBacktick = true;
      if (close === -1) {
        arg.unterminated = true;
        p = line.length;
        break;
      }
      arg.value += line.slice(p, close + 1);
      p = close + 1;
    } else {
      VARIABLE.lastIndex = p;
      const variable = c === ":" ? VARIABLE.exec(line)?.[0] : undefined;
      if (variable !== undefined) {
        arg.usesVariable = true;
        arg.quoted = true;
        arg.unquotedTail = 0;
        arg.value += variable;
        p += variable.length;
      } else {
        arg.value += c;
        arg.unquotedTail++;
        p++;
      }
    }
  }
  return { arg: arg.value === "" && !arg.quoted ? null : arg, pos: p };
}

const SIMPLE_ESCAPES: Record<string, string> = { n: "\n", t: "\t", b: "\b", r: "\r", f: "\f" };
const OCTAL_ESCAPE = /[0-7]{1,3}/y;
const HEX_ESCAPE = /x([0-9A-Fa-f]{1,2})/y;

/** A single-quoted backslash-command argument from `start` (after the quote), unescaped. */
function singleQuoted(line: string, start: number): { value: string; end: number; unterminated: boolean } {
  let value = "";
  let p = start;
  while (p < line.length) {
    const c = line[p] ?? "";
    if (c === "'") {
      if (line[p + 1] === "'") {
        value += "'";
        p += 2;
        continue;
      }
      return { value, end: p + 1, unterminated: false };
    }
    if (c === "\\" && p + 1 < line.length) {
      OCTAL_ESCAPE.lastIndex = p + 1;
      HEX_ESCAPE.lastIndex = p + 1;
      const octal = OCTAL_ESCAPE.exec(line)?.[0];
      const hex = HEX_ESCAPE.exec(line);
      const e = line[p + 1] ?? "";
      if (octal !== undefined) {
        value += String.fromCharCode(parseInt(octal, 8) & 0xff);
        p += 1 + octal.length;
      } else if (hex?.[1] !== undefined) {
        value += String.fromCharCode(parseInt(hex[1], 16));
        p += 1 + hex[0].length;
      } else {
        value += SIMPLE_ESCAPES[e] ?? e;
        p += 2;
      }
      continue;
    }
    value += c;
    p++;
  }
  return { value, end: line.length, unterminated: true };
}

/** Lexes every remaining argument of a command, and a trailing `\\` separator. */
function slashArgs(line: string, pos: number): { args: SlashArg[]; end: number } {
  const args: SlashArg[] = [];
  let p = pos;
  for (;;) {
    const next = slashArg(line, p);
    p = next.pos;
    if (next.arg === null) break;
    args.push(next.arg);
    if (next.arg.unterminated) break;
  }
  if (line.startsWith("\\\\", p)) p += 2;
  return { args, end: p };
}

/** The file argument of `\i` or `\lo_import` with psql's trailing-`;` stripping, or an error. */
function fileArgument(source: Source, command: string, arg: SlashArg | undefined): string {
  const where = `in "\\${command}" from ${includerName(source)}`;
  if (arg === undefined) throw invalidArgument(`Missing file name ${where}`);
  if (arg.unterminated) throw invalidArgument(`Unterminated quoted string ${where}`);
  let value = arg.value;
  for (let n = arg.unquotedTail; n > 0 && value.endsWith(";"); n--) value = value.slice(0, -1);
  const unkeyable = arg.usesVariable
    ? "the path uses a psql variable, which sqlrs cannot key (quote the path if the colon is literal)"
    : arg.usesBacktick
    ? "the path is computed by a shell command, which sqlrs cannot key"
    : value.startsWith("~")
    ? `sqlrs does not expand "~" in paths; use a relative or absolute path`
    : value === "-"
    ? `"-" reads psql's stdin, which sqlrs cannot key`
    : value === "" && !arg.quoted
    ? "missing file name"
    : null;
  if (unkeyable !== null) throw invalidArgument(`Cannot use "${value}" ${where}: ${unkeyable}`);
  return value;
}

/**
 * Handles the backslash command at `start`: expands includes, keys data files, and tells where the
 * SQL lexer goes on (`next`) and from where the line's text is copied again (`copied`).
 */
async function metaCommand(
  ctx: Context,
  source: Source,
  scan: Scan,
  line: string,
  start: number,
): Promise<{ next: number; copied: number }> {
  let nameEnd = start + 1;
  while (nameEnd < line.length && !isSpace(line[nameEnd]) && line[nameEnd] !== "\\") nameEnd++;
  const name = line.slice(start + 1, nameEnd);
  ctx.metaCommands.push({ name, argument: line.slice(nameEnd), where: includerName(source) });

  if (name.toLowerCase() === "copy") {
    ctx.pending += line.slice(start);
    const copy = copySource(line.slice(nameEnd));
    if (copy.kind === "invalid") {
      throw invalidArgument(`Cannot parse "\\copy" from ${includerName(source)}: ${copy.reason}`, {
        line: line.trim(),
      });
    }
    // Inline data follows in this input; with pstdin too when this input is psql's stdin.
    if (copy.kind === "stdin" || (copy.kind === "pstdin" && source.path === null)) scan.copyPending = true;
    if (copy.kind === "file") await keyDataFile(ctx, source, "\\copy", copy.path);
    if (copy.kind === "program") {
      await keyProgram(
        ctx,
        source,
        "\\copy … from program",
        copy.command,
        (word) => resolve(ctx.workDir, word),
      );
    }
    return { next: line.length, copied: line.length };
  }
  if (WHOLE_LINE.has(name)) return { next: line.length, copied: start };
  if (FILE_PIPE.has(name)) {
    let p = nameEnd;
    while (p < line.length && isSpace(line[p])) p++;
    if (line[p] === "|") return { next: line.length, copied: start };
  }
  if (name === "cd") {
    throw invalidArgument(
      `Cannot use "\\cd" from ${
        includerName(source)
      }: sqlrs resolves paths against the directory psql starts in`,
    );
  }
  if (SENDS_QUERY.has(name)) await endStatement(ctx, source, scan);
  if (name === "r" || name === "reset") {
    scan.statement = "";
    scan.statementKind = "unknown";
  }

  const { args, end } = slashArgs(line, nameEnd);
  if (INCLUDES.has(name)) {
    const file = fileArgument(source, name, args[0]);
    const base = RELATIVE_INCLUDES.has(name) && source.path !== null ? dirname(source.path) : ctx.workDir;
    await includeFile(ctx, source, file, resolve(base, file));
    return { next: end, copied: end };
  }
  if (name === "lo_import") {
    const file = fileArgument(source, name, args[0]);
    ctx.pending += line.slice(start, end);
    await keyDataFile(ctx, source, "\\lo_import", file);
    return { next: end, copied: end };
  }
  return { next: end, copied: start };
}

async function keyDataFile(ctx: Context, source: Source, command: string, file: string): Promise<void> {
  const path = resolve(ctx.workDir, file);
  const hash = await hashDataFile(
    ctx,
    path,
    `Cannot read "${file}" for ${command} from ${includerName(source)}`,
  );
  record(ctx, "data", hash);
}

async function includeFile(ctx: Context, source: Source, written: string, path: string): Promise<void> {
  record(ctx, "include-boundary", "begin");
  const what = `Cannot include "${written}" from ${includerName(source)}`;
  await expandFile(ctx, path, what, { path, label: display(ctx, path) }, written);
  record(ctx, "include-boundary", "end");
}
