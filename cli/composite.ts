/**
 * The composite form `prepare:<kind> … run:<kind> …`: the first `run`/`run:<kind>` token that is
 * not the value of an option starts the run stage (reference 2.1). Options with values are sqlrs's
 * own (`--image`, `--name`, `--ttl`) and each prepare kind's (`shared/prepare_kinds.ts`): Liquibase's
 * that name files, and any psql option that takes one, however it is spelled (`-c`, `-Atc`, `--command`).
 *
 * @module
 */

import { PREPARE_KIND_SPECS } from "../shared/prepare_kinds.ts";

/** sqlrs's own prepare flags that take a value. */
const VALUE_FLAGS = new Set(["--image", "--name", "--ttl", "--deadline", "--statement-timeout"]);

/**
 * Whether `token` takes the next argument as its value: a sqlrs flag or any kind's tool option (a
 * recipe's kind is not known here, so every kind's count).
 */
function takesValue(token: string): boolean {
  return VALUE_FLAGS.has(token) || PREPARE_KIND_SPECS.some((kind) => kind.info.takesValue(token));
}

/** Splits argv (after global flags) into the prepare stage and the run stage, if any. */
export function splitComposite(argv: readonly string[]): { prepare: string[]; run: string[] | undefined } {
  if (!/^prepare(:|$)/.test(argv[0] ?? "")) return { prepare: [...argv], run: undefined };
  for (let i = 1; i < argv.length; i++) {
    const token = argv[i] as string;
    if (takesValue(token)) {
      i++;
      continue;
    }
    if (token === "run" || token.startsWith("run:")) return { prepare: argv.slice(0, i), run: argv.slice(i) };
  }
  return { prepare: [...argv], run: undefined };
}
