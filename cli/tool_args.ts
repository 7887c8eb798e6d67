/**
 * The CLI's side of tool arguments: its own stdin, read once for `-f -` and run steps. Parsing psql
 * arguments (absolute `-f` paths, run steps) is shared with `mod.ts` in `client/psql_args.ts`.
 *
 * @module
 */

/** Reads all of stdin once (later calls get the same text). */
export function stdinReader(): () => Promise<string | undefined> {
  let cached: Promise<string | undefined> | undefined;
  return () => {
    cached ??= (async () => {
      if (Deno.stdin.isTerminal()) return undefined;
      return await new Response(Deno.stdin.readable).text();
    })();
    return cached;
  };
}
