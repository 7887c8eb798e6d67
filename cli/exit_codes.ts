/**
 * Exit codes (DESIGN.md section 7): 0 ok; 1 failure (a failed job, an engine error); 2 bad usage
 * or input; 3 internal error or engine unreachable; 4 refused by a safety rule; 5 detached at the
 * Ctrl+C prompt (the job keeps running). `run` passes the tool's own code.
 *
 * @module
 */

import { SqlrsError } from "../shared/errors.ts";
import { EngineUnreachableError } from "../client/engine_client.ts";

/** The process exit code for an error. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof EngineUnreachableError) return 3;
  if (!(error instanceof SqlrsError)) return 3;
  switch (error.code) {
    case "invalid_argument":
    case "not_found":
    case "ambiguous":
    case "conflict":
    case "method_not_allowed":
    case "range_not_satisfiable":
      return 2;
    case "blocked":
      return 4;
    case "internal_error":
    case "unauthorized":
    case "incompatible_version":
      return 3;
    default:
      return 1;
  }
}

/** The exit code of `prepare`/`watch` when the user detached from the job at the control prompt. */
export const EXIT_DETACHED = 5;

/** The error code a JSON error carries for an exit code a command chose. */
function codeForExit(exitCode: number): string {
  switch (exitCode) {
    case 2:
      return "invalid_argument";
    case 4:
      return "blocked";
    case EXIT_DETACHED:
      return "detached";
    case 64:
      return "unsupported";
    default:
      return "internal_error";
  }
}

/** A failure whose exit code the command chose. */
export class ExitError extends Error {
  readonly exitCode: number;
  /** The `code` of its JSON error (`--output json`). */
  readonly code: string;
  constructor(exitCode: number, message: string) {
    super(message);
    this.name = "ExitError";
    this.exitCode = exitCode;
    this.code = codeForExit(exitCode);
  }
}
