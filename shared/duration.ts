/**
 * Durations as users write them: `500ms`, `30s`, `10m`, `2h`, `1d`.
 *
 * @module
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The longest duration accepted: 100 years (36500d), far inside what a `Date` can hold. */
export const MAX_DURATION_MS = 36_500 * UNIT_MS.d;

const PATTERN = /^(\d+)(ms|s|m|h|d)$/;

/** Milliseconds of a well-formed duration, unbounded; undefined when malformed. */
function milliseconds(text: string): number | undefined {
  const match = PATTERN.exec(text.trim());
  return match === null ? undefined : Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** Whether a duration is no longer than 36500d; a malformed one is not judged here (true). */
export function isWithinMaxDuration(text: string): boolean {
  return !((milliseconds(text) ?? 0) > MAX_DURATION_MS);
}

/**
 * Parses a duration into milliseconds.
 * @throws {RangeError} when the text is not a duration, or one longer than 36500d
 */
export function parseDuration(text: string): number {
  const ms = milliseconds(text);
  if (ms === undefined) {
    throw new RangeError(
      `Cannot parse duration "${text}": expected a number and a unit such as 30s, 10m, 2h`,
    );
  }
  if (!isWithinMaxDuration(text)) {
    throw new RangeError(`Cannot use duration "${text}": at most 36500d (100 years)`);
  }
  return ms;
}
