/**
 * Exit codes (DESIGN.md section 7), in one table: 0 ok; 1 failure (a failed job, an engine error);
 * 2 bad usage or input; 3 internal error or engine unreachable; 4 refused by a safety rule; 5 detached
 * at the Ctrl+C prompt (the job keeps running); 64 not supported here. `run` passes the tool's own code.
 *
 * @module
 */

import { type ErrorCode, SqlrsError } from "../shared/errors.ts";
import { EngineUnreachableError } from "../client/engine_client.ts";

/** The outcomes a command ends with, and the exit code of each. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  internal: 3,
  refused: 4,
  detached: 5,
  unsupported: 64,
} as const;

/** One of the exit codes of {@link EXIT}. */
export type ExitCode = typeof EXIT[keyof typeof EXIT];

/** The exit code of each engine error code: adding an error code means choosing its exit code here. */
const EXIT_FOR_ERROR: Record<ErrorCode, ExitCode> = {
  invalid_argument: EXIT.usage,
  not_found: EXIT.usage,
  ambiguous: EXIT.usage,
  conflict: EXIT.usage,
  source_inputs_missing: EXIT.usage,
  method_not_allowed: EXIT.usage,
  range_not_satisfiable: EXIT.usage,
  blocked: EXIT.refused,
  instance_limit: EXIT.refused,
  internal_error: EXIT.internal,
  unauthorized: EXIT.internal,
  forbidden: EXIT.refused,
  incompatible_version: EXIT.internal,
  cancelled: EXIT.failed,
  cache_full_unreclaimable: EXIT.failed,
  cache_limit_too_small: EXIT.failed,
  unavailable: EXIT.failed,
  step_failed: EXIT.failed,
};

/** The code a JSON error (`--output json`) carries for an exit code a command chose. */
const ERROR_FOR_EXIT: Partial<Record<ExitCode, string>> = {
  [EXIT.usage]: "invalid_argument",
  [EXIT.refused]: "blocked",
  [EXIT.detached]: "detached",
  [EXIT.unsupported]: "unsupported",
};

/** The process exit code for an error. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof EngineUnreachableError) return EXIT.internal;
  if (!(error instanceof SqlrsError)) return EXIT.internal;
  return EXIT_FOR_ERROR[error.code];
}

/** The exit code of `prepare`/`watch` when the user detached from the job at the control prompt. */
export const EXIT_DETACHED: ExitCode = EXIT.detached;

/** A failure whose exit code the command chose. */
export class ExitError extends Error {
  readonly exitCode: ExitCode;
  /** The `code` of its JSON error (`--output json`). */
  readonly code: string;
  constructor(exitCode: ExitCode, message: string) {
    super(message);
    this.name = "ExitError";
    this.exitCode = exitCode;
    this.code = ERROR_FOR_EXIT[exitCode] ?? "internal_error";
  }
}
