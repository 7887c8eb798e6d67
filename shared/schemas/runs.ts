/**
 * `POST /v1/runs`: running psql or pgbench against an instance, and its NDJSON stream.
 *
 * @module
 */

import { z } from "../deps.ts";
import { typed } from "./_typed.ts";
import { Duration, Timestamp } from "./common.ts";
import { ErrorResponse } from "./discovery.ts";

/** One psql invocation of a run: its args and, optionally, what it reads on stdin. */
export interface RunStep {
  args: string[];
  stdin?: string | undefined;
}
const RunStepSchema = z.strictObject({ args: z.array(z.string()), stdin: z.string().optional() });

/** `POST /v1/runs` body as a client sends it: run psql or pgbench against an instance. */
export interface RunRequest {
  instance_ref: string;
  kind: "psql" | "pgbench";
  command?: string | null | undefined;
  /** Tool args (default none); with `steps`, each step carries its own. */
  args?: string[] | undefined;
  stdin?: string | undefined;
  steps?: RunStep[] | undefined;
  work_dir?: string | undefined;
  /** PostgreSQL's `statement_timeout` for the tool's sessions. */
  statement_timeout?: string | undefined;
}
/** `POST /v1/runs` body as the engine sees it after parsing (`args` defaulted). */
export type ParsedRunRequest = RunRequest & { args: string[] };
/** `POST /v1/runs`: run psql or pgbench against an instance. `steps` excludes `args`/`stdin`. */
export const RunRequest: z.ZodType<ParsedRunRequest, RunRequest> = typed<ParsedRunRequest, RunRequest>()(
  z.strictObject({
    instance_ref: z.string().min(1).max(1024),
    kind: z.enum(["psql", "pgbench"]),
    command: z.string().nullable().optional(),
    args: z.array(z.string()).default([]),
    stdin: z.string().optional(),
    steps: z.array(RunStepSchema).optional(),
    work_dir: z.string().optional(),
    statement_timeout: Duration.optional(),
  }),
);

/** One line of a run's NDJSON stream. `stdout`/`stderr` data is base64 so that any bytes survive. */
export interface RunEvent {
  type: "start" | "stdout" | "stderr" | "exit" | "error" | "log";
  ts: string;
  instance_id?: string | undefined;
  data?: string | undefined;
  exit_code?: number | undefined;
  error?: ErrorResponse | undefined;
}
/** One line of a run's NDJSON stream. `stdout`/`stderr` data is base64 so that any bytes survive. */
export const RunEvent: z.ZodType<RunEvent> = typed<RunEvent>()(z.object({
  type: z.enum(["start", "stdout", "stderr", "exit", "error", "log"]),
  ts: Timestamp,
  instance_id: z.string().optional(),
  data: z.string().optional(),
  exit_code: z.number().int().optional(),
  error: ErrorResponse.optional(),
}));
