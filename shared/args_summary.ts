/**
 * Short human forms of tool arguments for tasks, states and logs.
 *
 * @module
 */

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** `-f schema.sql -c 'select 1'`. */
export function argsSummary(args: readonly string[]): string {
  return args.map(shellQuote).join(" ");
}
