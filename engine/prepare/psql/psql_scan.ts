/**
 * The scanner of a psql input, line by line, as psql scans it (src/fe_utils/psqlscan.l,
 * src/bin/psql/psqlscanslash.l): SQL text goes to the content stream; backslash commands outside
 * literals, quoted identifiers, dollar quotes and comments expand their includes and key the files
 * they read; the statement being scanned is kept while it may be a `COPY` (its inline data is hashed
 * but never taken for commands, its server-side file or program keyed).
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { invalidArgument } from "../../../shared/errors.ts";
import { type Context, includerName, type Source } from "./psql_context.ts";
import { copySource } from "./psql_copy.ts";
import { keyDataFile, keyProgram, keyServerCopy } from "./psql_data_keys.ts";
import { fileArgument, isSpace, slashArgs } from "./psql_slash_args.ts";

/** The SQL lexer's state between characters (and lines) of one source. */
type LexState =
  | { kind: "sql" }
  | { kind: "comment"; depth: number }
  | { kind: "string"; escapes: boolean }
  | { kind: "ident" }
  | { kind: "dollar"; tag: string };

/** Where the scanner is in one source. */
export interface Scan {
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

const SQL: LexState = { kind: "sql" };
const INCLUDES = new Set(["i", "include", "ir", "include_relative"]);
const RELATIVE_INCLUDES = new Set(["ir", "include_relative"]);
/** Commands whose argument is the rest of the line, backslashes included. */
const WHOLE_LINE = new Set(["!", "h", "help", "ef", "ev", "sf", "sf+", "sv", "sv+"]);
/** Commands whose argument is the rest of the line when it starts with `|`. */
const FILE_PIPE = new Set(["g", "gx", "o", "out", "w", "write"]);
/** Commands that send the query buffer, as `;` does. */
const SENDS_QUERY = new Set(["g", "gx", "gset", "gexec"]);
const SQL_VARIABLE = /:(?:'[A-Za-z0-9_\u0080-\uffff]+'|"[A-Za-z0-9_\u0080-\uffff]+")/y;
const STRING_STOP = /'/g;
const ESCAPE_STRING_STOP = /['\\]/g;
const SPECIAL = /[-\/'"$:\\();]/g;
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

/** The scanner's state at the start of a source. */
export function newScan(): Scan {
  return {
    state: SQL,
    parenDepth: 0,
    statement: "",
    statementKind: "unknown",
    copyData: false,
    copyPending: false,
  };
}

function isIdentStart(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z_\u0080-\uffff]/.test(c);
}

function isIdentCont(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
}

/** Ends the current statement: a COPY's inline data follows, or what the server will read is keyed. */
export async function endStatement(ctx: Context, source: Source, scan: Scan): Promise<void> {
  if (scan.statementKind === "copy") {
    if (/\bfrom\s+stdin\b/i.test(scan.statement)) scan.copyPending = true;
    else await keyServerCopy(ctx, source, scan.statement);
  }
  scan.statement = "";
  scan.statementKind = "unknown";
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
export async function scanLine(
  ctx: Context,
  source: Source,
  scan: Scan,
  line: string,
  eol: string,
): Promise<void> {
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
    await ctx.include(source, file, resolve(base, file));
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
