/**
 * The error model shared by the engine, the client and the CLI.
 *
 * Every failure that crosses the API is an {@link ErrorResponse} `{code, message, details?}`;
 * `code` is one of {@link ERROR_CODES} and decides the HTTP status through {@link statusFor}.
 *
 * @module
 */

/** Error codes that the engine answers with, and the HTTP status of each. */
export const ERROR_CODES = {
  invalid_argument: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  ambiguous: 409,
  blocked: 409,
  instance_limit: 409,
  range_not_satisfiable: 416,
  incompatible_version: 426,
  cancelled: 409,
  source_inputs_missing: 409,
  cache_full_unreclaimable: 507,
  cache_limit_too_small: 507,
  unavailable: 503,
  step_failed: 422,
  internal_error: 500,
} as const;

/** One of the engine's error codes. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The HTTP status that answers an error code. */
export function statusFor(code: ErrorCode): number {
  return ERROR_CODES[code];
}

/** A failure with a stable code, safe to show to a user and to send over the API. */
export class SqlrsError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { details?: Record<string, unknown>; cause?: unknown },
  ) {
    super(message, { cause: options?.cause });
    this.name = "SqlrsError";
    this.code = code;
    this.details = options?.details;
  }

  /** The error as the API's `ErrorResponse` body. */
  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** Shorthand for a 400 naming what was wrong with the caller's input. */
export function invalidArgument(message: string, details?: Record<string, unknown>): SqlrsError {
  return new SqlrsError("invalid_argument", message, details === undefined ? undefined : { details });
}

/** Shorthand for a 404. */
export function notFound(message: string, details?: Record<string, unknown>): SqlrsError {
  return new SqlrsError("not_found", message, details === undefined ? undefined : { details });
}

/**
 * For a ref that matched nothing: when it looks like an id prefix too short to be taken as one
 * (1 to 7 hex characters), a 400 that says so; otherwise `undefined`.
 */
export function shortPrefixError(ref: string): SqlrsError | undefined {
  if (!/^[0-9a-fA-F]{1,7}$/.test(ref)) return undefined;
  return invalidArgument(`"${ref}" is no name and too short for an id prefix: use 8 or more hex characters`);
}

/** The message of any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
