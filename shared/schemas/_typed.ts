/**
 * The compile-time check that keeps each schema of `shared/schemas/` equal to its declared type.
 *
 * @module
 */

import type { z } from "../deps.ts";

/** True when A and B are assignable to each other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/**
 * Gives a schema its declared type `z.ZodType<T, I>` after checking, at compile time, that it parses
 * to exactly `T` (and, when `I` is given, accepts exactly `I`): a schema and its declaration cannot
 * drift apart.
 */
export function typed<T, I = unknown>() {
  return <S extends z.ZodType<T, I>>(
    schema:
      & S
      & (Same<z.output<S>, T> extends true ? unknown : { "the schema's output differs from its type": never })
      & (unknown extends I ? unknown
        : Same<z.input<S>, I> extends true ? unknown
        : { "the schema's input differs from its type": never }),
  ): z.ZodType<T, I> => schema;
}
