/**
 * What commands print: results on stdout, diagnostics on stderr; JSON or aligned tables.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Writes text to stdout. */
export function out(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text.endsWith("\n") ? text : `${text}\n`));
}

/** Writes a line to stderr. */
export function err(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text.endsWith("\n") ? text : `${text}\n`));
}

/** Prints a value as JSON on stdout. */
export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

/** `value` with every object key turned from camelCase into snake_case, at every depth. */
export function snakeCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeCaseKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map((
      [key, item],
    ) => [key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snakeCaseKeys(item)]),
  );
}

/**
 * Reports why a command failed: one `sqlrs: ` line on stderr and, with `--output json`, also
 * `{"error":{"code","message"}}` on stdout, so that a script reading stdout sees the failure too.
 */
export function printError(json: boolean, code: string, message: string): void {
  err(`sqlrs: ${message}`);
  if (json) printJson({ error: { code, message } });
}

/**
 * How wide table rows may be: the terminal's width when stdout is one, else `COLUMNS` when set, else
 * unlimited (a pipe gets whole values; `--long` and JSON always do).
 */
export function outputWidth(): number | undefined {
  try {
    if (Deno.stdout.isTerminal()) {
      const columns = Deno.consoleSize().columns;
      if (columns > 0) return columns;
    }
  } catch {
    // no console size
  }
  const columns = Number(Deno.env.get("COLUMNS"));
  return Number.isInteger(columns) && columns > 0 ? columns : undefined;
}

/**
 * Renders rows as an aligned table with a header. With `maxWidth`, the last column (where the long
 * values go) is cut to fit, ending with `…`.
 */
export function table(
  headers: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  options: { header?: boolean; maxWidth?: number | undefined } = {},
): string {
  const all = options.header === false ? rows : [headers, ...rows];
  const widths = headers.map((_, column) => Math.max(...all.map((row) => (row[column] ?? "").length)));
  const lastStart = widths.slice(0, -1).reduce((sum, width) => sum + width + 2, 0);
  const lastWidth = options.maxWidth === undefined ? undefined : Math.max(8, options.maxWidth - lastStart);
  return all.map((row) =>
    row.map((cell, column) =>
      column < row.length - 1
        ? cell.padEnd(widths[column] ?? 0)
        : lastWidth === undefined || cell.length <= lastWidth
        ? cell
        : `${cell.slice(0, lastWidth - 1)}…`
    ).join("  ")
  )
    .join("\n");
}

/** A 12-character id for people (`--long` shows the full one). */
export function shortId(id: string | null, long = false): string {
  if (id === null) return "-";
  return long ? id : id.slice(0, 12);
}

/** `3m ago`, `2h ago`. */
export function relativeTime(iso: string | null): string {
  if (iso === null) return "-";
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  const text = durationText(Math.abs(seconds));
  return seconds < 0 ? `in ${text}` : `${text} ago`;
}

/** How long ago `iso` was, in the largest whole unit: `42s`, `5m`, `3h`, `2d`. */
export function age(iso: string): string {
  return durationText(Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000)));
}

function durationText(seconds: number): string {
  return seconds < 60
    ? `${seconds}s`
    : seconds < 3600
    ? `${Math.round(seconds / 60)}m`
    : seconds < 86400
    ? `${Math.round(seconds / 3600)}h`
    : `${Math.round(seconds / 86400)}d`;
}

/** `1.2 MB`. */
export function humanBytes(bytes: number | null): string {
  if (bytes === null) return "-";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
