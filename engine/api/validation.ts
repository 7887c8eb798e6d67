/**
 * Request validation: every body is parsed with its zod schema, and a failure becomes a 400 that
 * names the field.
 *
 * @module
 */

import type { z } from "../../shared/deps.ts";
import { invalidArgument } from "../../shared/errors.ts";

/** One line naming each failing field: `psql_args: expected array, received string`. */
export function zodIssueText(error: z.ZodError): string {
  return error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join(".") : "body";
    if (issue.code === "unrecognized_keys") {
      return `${where}: unknown field${issue.keys.length > 1 ? "s" : ""} ${
        issue.keys.map((k) => `"${k}"`).join(", ")
      }`;
    }
    return `${where}: ${issue.message}`;
  }).join("; ");
}

/** Parses a request's JSON body with `schema`; a malformed or invalid body is a 400 naming the field. */
export async function parseBody<S extends z.ZodType>(request: Request, schema: S): Promise<z.infer<S>> {
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch (error) {
    throw invalidArgument(`Malformed JSON body: ${(error as Error).message}`);
  }
  return validated(schema, body);
}

/** `value` checked with `schema`; an invalid one is a 400 naming the field. */
export function validated<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw invalidArgument(`Invalid request: ${zodIssueText(parsed.error)}`, {
      fields: parsed.error.issues.map((issue) => issue.path.join(".")),
    });
  }
  return parsed.data;
}
