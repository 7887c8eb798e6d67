/**
 * psql's lexer of backslash-command arguments (src/bin/psql/psqlscanslash.l, OT_NORMAL): quoting,
 * escapes, variables and backquotes, and the file argument of `\i` and `\lo_import`.
 *
 * @module
 */

import { invalidArgument } from "../../../shared/errors.ts";
import { includerName, type Source } from "./psql_context.ts";

const VARIABLE =
  /:(?:[A-Za-z0-9_\u0080-\uffff]+|'[A-Za-z0-9_\u0080-\uffff]+'|"[A-Za-z0-9_\u0080-\uffff]+"|\{\?[A-Za-z0-9_\u0080-\uffff]+\})/y;

/** Whether `c` is whitespace as psql's lexer sees it. */
export function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f";
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
export function slashArgs(line: string, pos: number): { args: SlashArg[]; end: number } {
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
export function fileArgument(source: Source, command: string, arg: SlashArg | undefined): string {
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
