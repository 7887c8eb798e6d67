/**
 * Where the data of a `COPY … FROM` comes from, for both spellings a psql script may use:
 *
 * - `\copy … from …` (psql's meta-command): psql reads a file, stdin or a program's output on the
 *   client side; {@link copySource} follows psql's parse_slash_copy().
 * - `COPY … FROM '/abs/file'` and `COPY … FROM PROGRAM '…'` (SQL): the server reads them;
 *   {@link serverCopySource} reads the statement as the SQL lexer left it (string literals kept,
 *   comments and quoted identifiers blanked).
 *
 * A program's output can only be keyed through what it reads: {@link programFiles} names the words of
 * a command line that are files, so `cat data.csv` or `gunzip -c data.csv.gz` is keyed by the file.
 *
 * @module
 */

/** Where a `\copy` command reads its data from. */
export type CopySource =
  | { kind: "file"; path: string }
  | { kind: "program"; command: string }
  | { kind: "stdin" }
  | { kind: "pstdin" }
  | { kind: "none" }
  | { kind: "invalid"; reason: string };

/** psql's strtokx(): the next token from `pos`, with quoted tokens kept whole (quotes included). */
function token(s: string, pos: number, delims: string, quotes: string): { text: string; end: number } | null {
  let p = pos;
  while (p < s.length && " \t\n\r".includes(s[p] ?? "")) p++;
  if (p >= s.length) return null;
  const c = s[p] ?? "";
  if (delims.includes(c)) return { text: c, end: p + 1 };
  if (quotes.includes(c)) {
    let q = p + 1;
    while (q < s.length) {
      if (s[q] === c && s[q + 1] === c) q += 2;
      else if (s[q] === c) {
        q++;
        break;
      } else q++;
    }
    return { text: s.slice(p, q), end: q };
  }
  let q = p;
  while (
    q < s.length && !" \t\n\r".includes(s[q] ?? "") && !delims.includes(s[q] ?? "") &&
    !quotes.includes(s[q] ?? "")
  ) {
    q++;
  }
  return { text: s.slice(p, q), end: q };
}

/** The text of a single-quoted token (`'it''s'` → `it's`); an unquoted token as it is. */
function unquote(text: string): string {
  return text.startsWith("'")
    ? text.slice(1, text.endsWith("'") ? -1 : undefined).replaceAll("''", "'")
    : text;
}

/** Where `\copy` reads from, following psql's parse_slash_copy(). */
export function copySource(args: string): CopySource {
  let pos = 0;
  const next = (delims: string, quotes: string): string | null => {
    const t = token(args, pos, delims, quotes);
    if (t === null) return null;
    pos = t.end;
    return t.text;
  };
  let t = next(".,()", '"');
  if (t !== null && t.toLowerCase() === "binary") t = next(".,()", '"');
  if (t === "(") {
    for (let parens = 1; parens > 0 && t !== null;) {
      t = next("()", `"'`);
      if (t === "(") parens++;
      else if (t === ")") parens--;
    }
  }
  if (t === null) return { kind: "invalid", reason: "unexpected end of line" };
  t = next(".,()", '"');
  if (t === ".") {
    next(".,()", '"');
    t = next(".,()", '"');
  }
  if (t === "(") {
    do t = next("()", '"'); while (t !== null && t !== ")");
    if (t !== null) t = next(".,()", '"');
  }
  if (t === null) return { kind: "invalid", reason: "unexpected end of line" };
  const direction = t.toLowerCase();
  if (direction !== "from" && direction !== "to") {
    return { kind: "invalid", reason: `expected FROM or TO at "${t}"` };
  }
  const target = next(";", "'");
  if (target === null) return { kind: "invalid", reason: "missing file name" };
  if (direction === "to") return { kind: "none" };
  const lower = target.toLowerCase();
  if (lower === "stdin") return { kind: "stdin" };
  if (lower === "pstdin") return { kind: "pstdin" };
  if (lower === "program") {
    const command = next(";", "'");
    if (command === null || !command.startsWith("'")) {
      return { kind: "invalid", reason: "PROGRAM needs a quoted command" };
    }
    return { kind: "program", command: unquote(command) };
  }
  const path = unquote(target);
  if (path === "") return { kind: "invalid", reason: "empty file name" };
  if (path.startsWith("~")) return { kind: "invalid", reason: `sqlrs does not expand "~" in paths` };
  return { kind: "file", path };
}

/** What a server-side `COPY` statement reads. */
export type ServerCopySource =
  | { kind: "file"; path: string }
  | { kind: "program"; command: string }
  /** STDIN, or a `COPY … TO`: nothing for the key beyond the script itself. */
  | { kind: "none" }
  /** A `COPY … FROM` whose source could not be read from the text (e.g. a dollar-quoted name). */
  | { kind: "unknown" };

const SERVER_COPY_FROM = /\bfrom\b\s*(?:(program)\s*)?(e?'(?:[^']|'')*'|[a-z_]+)?/i;

/**
 * What the `COPY` statement `statement` reads on the server. `statement` is the SQL as the lexer
 * keeps it: string literals intact, comments and quoted identifiers blanked, so a `from` in it is a
 * keyword (a column or table named "from" must be quoted).
 */
export function serverCopySource(statement: string): ServerCopySource {
  const text = statement.trim();
  // COPY (query) TO …: the parenthesised query may contain FROM, and nothing is read.
  if (/^copy\s*\(/i.test(text)) return { kind: "none" };
  const match = SERVER_COPY_FROM.exec(text);
  if (match === null) return { kind: "none" };
  const [, program, target] = match;
  if (target === undefined) return { kind: "unknown" };
  const literal = /^e?'/i.test(target);
  if (program !== undefined) {
    return literal ? { kind: "program", command: unquote(target.replace(/^e/i, "")) } : { kind: "unknown" };
  }
  if (literal) return { kind: "file", path: unquote(target.replace(/^e/i, "")) };
  const word = target.toLowerCase();
  return word === "stdin" ? { kind: "none" } : { kind: "unknown" };
}

/**
 * The words of a shell command line that may name files (not options, not pipes or redirections),
 * single- and double-quoted words unquoted. The caller keys those that exist.
 */
export function programWords(command: string): string[] {
  const words: string[] = [];
  const pattern = /'([^']*)'|"((?:[^"\\]|\\.)*)"|([^\s'"|;&<>]+)/g;
  for (const match of command.matchAll(pattern)) {
    const word = match[1] ?? match[2]?.replace(/\\(.)/g, "$1") ?? match[3] ?? "";
    if (word !== "" && !word.startsWith("-")) words.push(word);
  }
  return words;
}
