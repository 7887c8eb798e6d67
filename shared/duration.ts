/**
 * Durations as users write them: `500ms`, `30s`, `10m`, `2h`, `1d`.
 *
 * @module
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Parses a duration into milliseconds.
 * @throws {RangeError} when the text is not a duration
 */
export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (match === null) {
    throw new RangeError(
      `Cannot parse duration "${text}": expected a number and a unit such as 30s, 10m, 2h`,
    );
  }
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
