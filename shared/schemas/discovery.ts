/**
 * Error bodies, `GET /v1/health` and `engine.json`: how a client finds and trusts an engine.
 *
 * @module
 */

import { z } from "../deps.ts";
import { typed } from "./_typed.ts";
import { Timestamp } from "./common.ts";

/** The body of every API error. */
export interface ErrorResponse {
  code: string;
  message: string;
  details?: Record<string, unknown> | undefined;
}
/** The body of every API error. */
export const ErrorResponse: z.ZodType<ErrorResponse> = typed<ErrorResponse>()(z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
}));

/** `GET /v1/health` (no token needed). */
export interface Health {
  ok: boolean;
  version: string;
  instanceId: string;
  pid: number;
  /** Whether a job runs or a stream is open (an idle engine of another version may be replaced). */
  busy?: boolean | undefined;
}
/** `GET /v1/health` (no token needed). */
export const Health: z.ZodType<Health> = typed<Health>()(z.object({
  ok: z.boolean(),
  version: z.string(),
  instanceId: z.string(),
  pid: z.number().int(),
  busy: z.boolean().optional(),
}));

/** `<state dir>/engine.json`: how clients find and authenticate to the running engine. */
export interface EngineFile {
  endpoint: string;
  pid: number;
  startedAt: string;
  authToken: string;
  version: string;
  instanceId: string;
}
/** `<state dir>/engine.json`: how clients find and authenticate to the running engine. */
export const EngineFile: z.ZodType<EngineFile> = typed<EngineFile>()(z.object({
  endpoint: z.string(),
  pid: z.number().int(),
  startedAt: Timestamp,
  authToken: z.string().min(16),
  version: z.string(),
  instanceId: z.string(),
}));
