/**
 * For the prepare kinds' unit tests: the `assert.rejects` check that a request was refused as bad input
 * (a 400) with a message matching `pattern`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { SqlrsError } from "../../shared/errors.ts";

/** Whether `error` is an `invalid_argument` {@link SqlrsError} whose message matches `pattern` (asserts it). */
export function isBadInput(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof SqlrsError, `expected a SqlrsError, got ${error}`);
    assert.equal(error.code, "invalid_argument");
    assert.match(error.message, pattern);
    return true;
  };
}
