/**
 * Reading Liquibase's `update-sql` output (and `update-count-sql` / `update-to-tag-sql`) into the
 * pending changesets, and the SQL that releases a stale Liquibase lock.
 *
 * The output is a script: a preamble (lock table, `databasechangelog` DDL, banner comments), then one
 * section per pending changeset, each opened by `-- Changeset <path>::<id>::<author>` and holding the
 * changeset's SQL followed by the statement that records it in `databasechangelog`: an `INSERT`
 * (first run) or, for `runOnChange`/`runAlways` changesets that ran before, an `UPDATE … SET …
 * MD5SUM = … WHERE ID = … AND AUTHOR = … AND FILENAME = …`. The script ends with
 * `-- Release Database Lock`. The recording statement gives the exact id/author/path and the checksum
 * (`MD5SUM`, e.g. `9:82073e0b…`); it carries volatile values (`NOW()`, `ORDEREXECUTED`,
 * `DEPLOYMENT_ID`), so it is not part of the returned SQL.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** One changeset that `update` would apply, in order. */
export interface PendingChangeset {
  /** The changelog path as Liquibase records it (`databasechangelog.filename`). */
  path: string;
  id: string;
  author: string;
  /** Liquibase's checksum (`9:<md5>`), or `sha256:<hex>` of {@link sql} when the output has none. */
  checksum: string;
  /** The changeset's SQL as Liquibase prints it, without the `databasechangelog` bookkeeping. */
  sql: string;
  /** `EXECUTED` for a first run, `RERAN` for a runOnChange/runAlways changeset that ran before. */
  execType: "EXECUTED" | "RERAN";
}

type Token =
  | { kind: "string"; value: string }
  | { kind: "word"; value: string }
  | { kind: "punct"; value: string };

/** Tokens of one SQL statement: '…' strings ('' escapes), "…" or bare words, punctuation. */
function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i] as string;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "'") {
      let value = "";
      i++;
      while (i < sql.length) {
        if (sql[i] === "'" && sql[i + 1] === "'") {
          value += "'";
          i += 2;
        } else if (sql[i] === "'") {
          i++;
          break;
        } else {
          value += sql[i];
          i++;
        }
      }
      tokens.push({ kind: "string", value });
    } else if (ch === '"') {
      const end = sql.indexOf('"', i + 1);
      const stop = end === -1 ? sql.length : end;
      tokens.push({ kind: "word", value: sql.slice(i + 1, stop) });
      i = stop + 1;
    } else if (/[\w$]/.test(ch)) {
      const match = /^[\w$]+/.exec(sql.slice(i)) as RegExpExecArray;
      tokens.push({ kind: "word", value: match[0] });
      i += match[0].length;
    } else {
      tokens.push({ kind: "punct", value: ch });
      i++;
    }
  }
  return tokens;
}

/** A value in a VALUES list or SET clause: a string, NULL, or anything else (`NOW()`, numbers) as null. */
function readValue(tokens: Token[], start: number): { value: string | null; next: number } {
  const first = tokens[start];
  if (first?.kind === "string") return { value: first.value, next: start + 1 };
  let depth = 0;
  let i = start;
  for (; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.kind === "punct" && t.value === "(") depth++;
    else if (t.kind === "punct" && t.value === ")") {
      if (depth === 0) break;
      depth--;
    } else if (t.kind === "punct" && t.value === "," && depth === 0) break;
    else if (t.kind === "word" && depth === 0 && /^(WHERE|AND)$/i.test(t.value) && i > start) break;
  }
  return { value: null, next: i };
}

function isWord(t: Token | undefined, word: string): boolean {
  return t?.kind === "word" && t.value.toUpperCase() === word;
}

function isPunct(t: Token | undefined, value: string): boolean {
  return t?.kind === "punct" && t.value === value;
}

/** After `INSERT INTO` / `UPDATE`: a possibly schema-qualified name; returns the index after it. */
function skipTableName(tokens: Token[], start: number, table: string): number | null {
  let i = start;
  let last: string | null = null;
  while (tokens[i]?.kind === "word") {
    last = (tokens[i] as Token).value;
    i++;
    if (!isPunct(tokens[i], ".")) break;
    i++;
  }
  return last !== null && last.toLowerCase() === table ? i : null;
}

/** Column → value of a `databasechangelog` INSERT or UPDATE (upper-case column names), else null. */
export function trackingValues(statement: string): Map<string, string | null> | null {
  const tokens = tokenize(statement);
  const values = new Map<string, string | null>();
  if (isWord(tokens[0], "INSERT") && isWord(tokens[1], "INTO")) {
    let i = skipTableName(tokens, 2, "databasechangelog");
    if (i === null || !isPunct(tokens[i], "(")) return null;
    const columns: string[] = [];
    for (i++; i < tokens.length && !isPunct(tokens[i], ")"); i++) {
      const t = tokens[i] as Token;
      if (t.kind === "word") columns.push(t.value.toUpperCase());
    }
    i++;
    if (!isWord(tokens[i], "VALUES") || !isPunct(tokens[i + 1], "(")) return null;
    i += 2;
    for (const column of columns) {
      const { value, next } = readValue(tokens, i);
      values.set(column, value);
      i = isPunct(tokens[next], ",") ? next + 1 : next;
    }
    return values.has("ID") ? values : null;
  }
  if (isWord(tokens[0], "UPDATE")) {
    let i = skipTableName(tokens, 1, "databasechangelog");
    if (i === null || !isWord(tokens[i], "SET")) return null;
    i++;
    while (i < tokens.length) {
      const column = tokens[i];
      if (column?.kind !== "word" || !isPunct(tokens[i + 1], "=")) break;
      const { value, next } = readValue(tokens, i + 2);
      values.set(column.value.toUpperCase(), value);
      i = next;
      if (isPunct(tokens[i], ",") || isWord(tokens[i], "AND")) i++;
      else if (isWord(tokens[i], "WHERE")) i++;
      else break;
    }
    return values.has("MD5SUM") && values.has("ID") ? values : null;
  }
  return null;
}

/** Could this line start a statement on `databasechangelog` (not `databasechangeloglock`)? */
const TRACKING_START = /^(INSERT\s+INTO|UPDATE)\s+(?:(?:"[^"]*"|[\w$]+)\.)*"?databasechangelog"?(?:\s|\(|$)/i;

/** Reads lines from `start` up to the one that ends the statement (`;` outside quotes). */
function readStatement(lines: string[], start: number): { text: string; next: number } {
  let inString = false;
  const parts: string[] = [];
  for (let i = start; i < lines.length; i++) {
    const line = lines[i] as string;
    parts.push(line);
    for (let j = 0; j < line.length; j++) {
      if (line[j] === "'") inString = !inString;
    }
    if (!inString && line.trimEnd().endsWith(";")) return { text: parts.join("\n"), next: i + 1 };
  }
  return { text: parts.join("\n"), next: lines.length };
}

const HEADER = /^-- Changeset (.*)$/;

function splitHeader(rest: string): { path: string; id: string; author: string } {
  const parts = rest.split("::");
  if (parts.length < 3) return { path: rest, id: "", author: "" };
  return {
    path: parts[0] as string,
    id: parts.slice(1, -1).join("::"),
    author: parts[parts.length - 1] as string,
  };
}

function trimBlankLines(lines: string[]): string {
  let start = 0;
  let end = lines.length;
  while (start < end && (lines[start] as string).trim() === "") start++;
  while (end > start && (lines[end - 1] as string).trim() === "") end--;
  return lines.slice(start, end).join("\n");
}

/**
 * The pending changesets in `update-sql` output, in order. Zero pending changesets give `[]`.
 * Id, author and path come from the recording statement when there is one (the header is ambiguous
 * when an id contains `::`), else from the header.
 */
export function parsePendingChangesets(updateSqlOutput: string): PendingChangeset[] {
  const lines = updateSqlOutput.split(/\r?\n/);
  const result: PendingChangeset[] = [];
  let i = 0;
  while (i < lines.length && !HEADER.test(lines[i] as string)) i++;
  while (i < lines.length) {
    const header = splitHeader((HEADER.exec(lines[i] as string) as RegExpExecArray)[1] as string);
    const sqlLines: string[] = [];
    let tracking: Map<string, string | null> | null = null;
    i++;
    while (i < lines.length) {
      const line = lines[i] as string;
      if (HEADER.test(line) || line.trim() === "-- Release Database Lock") break;
      if (tracking === null && TRACKING_START.test(line)) {
        const statement = readStatement(lines, i);
        const values = trackingValues(statement.text);
        if (values !== null) {
          tracking = values;
          i = statement.next;
          continue;
        }
      }
      sqlLines.push(line);
      i++;
    }
    const sql = trimBlankLines(sqlLines);
    const md5 = tracking?.get("MD5SUM") ?? null;
    result.push({
      path: tracking?.get("FILENAME") ?? header.path,
      id: tracking?.get("ID") ?? header.id,
      author: tracking?.get("AUTHOR") ?? header.author,
      checksum: md5 !== null && md5 !== "" ? md5 : `sha256:${createHash("sha256").update(sql).digest("hex")}`,
      sql,
      execType: tracking?.get("EXECTYPE") === "RERAN" ? "RERAN" : "EXECUTED",
    });
    while (i < lines.length && !HEADER.test(lines[i] as string)) i++;
  }
  return result;
}

/** `<path>::<id>::<author>`, the way Liquibase names a changeset in its messages. */
export function changesetRef(changeset: Pick<PendingChangeset, "path" | "id" | "author">): string {
  return `${changeset.path}::${changeset.id}::${changeset.author}`;
}

/**
 * The changesets an `update`/`update-count` run applied, in order, from its `Running Changeset:
 * <path>::<id>::<author>` lines (stderr). After `update-count --count 1` it must be exactly the planned
 * changeset: a `runAlways` changeset is pending again after it ran, so the next `update-count --count 1`
 * re-runs it instead of the next planned one, and such a step must fail rather than be cached.
 */
export function ranChangesets(output: string): string[] {
  const ran: string[] = [];
  for (const line of output.split(/\r?\n/)) {
    const match = /^Running Changeset: (.+)$/.exec(line);
    if (match !== null) ran.push(match[1] as string);
  }
  return ran;
}

/**
 * SQL (one statement, fine for `psql -c`) that releases every `databasechangeloglock` row in any
 * schema of the current database; a no-op when there is no such table. sqlrs runtimes are
 * disposable, so a lock still held there was left by a Liquibase that was killed.
 */
export function clearStaleLockSql(): string {
  return [
    "DO $sqlrs_lb$",
    "DECLARE lock_table regclass;",
    "BEGIN",
    "  FOR lock_table IN",
    "    SELECT c.oid::regclass FROM pg_catalog.pg_class c",
    "    WHERE c.relname = 'databasechangeloglock' AND c.relkind IN ('r', 'p')",
    "      AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a",
    "                  WHERE a.attrelid = c.oid AND a.attname = 'locked' AND NOT a.attisdropped)",
    "  LOOP",
    "    EXECUTE format('UPDATE %s SET locked = FALSE, lockgranted = NULL, lockedby = NULL WHERE locked', lock_table);",
    "  END LOOP;",
    "END",
    "$sqlrs_lb$;",
  ].join("\n");
}
