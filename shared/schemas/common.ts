/**
 * Ids, timestamps and durations shared by the API's schemas.
 *
 * @module
 */

import { z } from "../deps.ts";
import { isWithinMaxDuration } from "../duration.ts";

/** A 64-hex state id (a SHA-256 fingerprint). */
export const StateId: z.ZodString = z.string().regex(/^[0-9a-f]{64}$/, "expected a 64-hex state id");
/** A 32-hex instance or job id. */
export const RandomId: z.ZodString = z.string().regex(/^[0-9a-f]{32}$/, "expected a 32-hex id");
/** An ISO-8601 timestamp. */
export const Timestamp: z.ZodString = z.string();

/** A duration such as `90s`, `30m`, `2h`, `500ms`. */
export const Duration: z.ZodString = z.string().regex(
  /^\d+(ms|s|m|h|d)$/,
  'expected a duration such as "30s", "10m", "2h"',
).refine(isWithinMaxDuration, "expected a duration of at most 36500d (100 years)");
