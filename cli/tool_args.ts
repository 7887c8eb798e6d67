/**
 * The CLI's side of tool arguments: its own stdin, read once for `-f -` and run steps. Parsing psql
 * arguments is shared with `mod.ts`: absolute `-f` paths of a prepare in `shared/prepare_kinds/psql.ts`,
 * run steps in `client/psql_args.ts`.
 *
 * @module
 */

let stdinText: Promise<string | undefined> | undefined;

/**
 * All of stdin, read on the first call; every later call (the prepare stage and the run stage of a
 * composite command alike) gets the same text, since the stream itself can be read only once.
 */
export function readStdin(): Promise<string | undefined> {
  stdinText ??= (async () => {
    if (Deno.stdin.isTerminal()) return undefined;
    return await new Response(Deno.stdin.readable).text();
  })();
  return stdinText;
}
