/**
 * Builds the API's prepare and run requests from tool arguments, one implementation for the CLI and
 * `mod.ts`: paths resolve against the caller's directory and `-f -` takes the caller's stdin. Each
 * prepare kind builds its own request (`shared/prepare_kinds/`); the flags common to all are set here.
 *
 * @module
 */

import type { PrepareJobRequest, RunRequest } from "../shared/schemas.ts";
import { type PrepareKindName, prepareKindSpec, type RequestCaller } from "../shared/prepare_kinds.ts";
import { psqlRunSteps } from "./psql_args.ts";

/** What a prepare request needs besides the tool args. */
export interface PrepareRequestOptions extends RequestCaller {
  image?: string | undefined;
  name?: string | undefined;
  rebind?: boolean | undefined;
  /** With `rebind`: keep the instance the name leaves (by default the engine deletes it). */
  keepOld?: boolean | undefined;
  ttl?: string | undefined;
  /** The job's wall-clock limit (`deadline`). */
  deadline?: string | undefined;
  /** PostgreSQL's `statement_timeout` for every step. */
  statementTimeout?: string | undefined;
  planOnly?: boolean | undefined;
}

function withFlags<R extends PrepareJobRequest>(request: R, options: PrepareRequestOptions): R {
  if (options.image !== undefined) request.image_id = options.image;
  if (options.planOnly === true) request.plan_only = true;
  if (options.name !== undefined) request.name = options.name;
  if (options.rebind === true) request.rebind = true;
  if (options.keepOld === true) request.keep_old = true;
  if (options.ttl !== undefined) request.ttl = options.ttl;
  if (options.deadline !== undefined) request.deadline = options.deadline;
  if (options.statementTimeout !== undefined) request.statement_timeout = options.statementTimeout;
  return request;
}

/**
 * A prepare request of `kind` from its tool args and the flags of `options`.
 *
 * @example
 * ```ts
 * import { prepareRequestFor } from "./requests.ts";
 * const request = await prepareRequestFor("psql", ["-f", "schema.sql"], {
 *   cwd: "/work",
 *   stdin: () => Promise.resolve(undefined),
 * });
 * if (request.prepare_kind !== "psql" || request.psql_args[1] !== "/work/schema.sql") {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export async function prepareRequestFor(
  kind: PrepareKindName,
  args: readonly string[],
  options: PrepareRequestOptions,
): Promise<PrepareJobRequest> {
  return withFlags(await prepareKindSpec(kind).request(args, options), options);
}

/**
 * A run request: pgbench args go as they are; psql's `-c`/`-f` each become a step, files read here.
 *
 * @example
 * ```ts
 * import { runRequestFor } from "./requests.ts";
 * const request = await runRequestFor("psql", "my-db", ["-c", "select 1"], {
 *   cwd: "/",
 *   stdin: () => Promise.resolve(undefined),
 * });
 * if (request.args?.join(" ") !== "-c select 1") throw new Error("unexpected");
 * ```
 */
export async function runRequestFor(
  kind: "psql" | "pgbench",
  instanceRef: string,
  args: readonly string[],
  options: {
    cwd: string;
    stdin: () => Promise<string | undefined>;
    /** PostgreSQL's `statement_timeout` for the tool's sessions. */
    statementTimeout?: string | undefined;
  },
): Promise<RunRequest> {
  const request = await runRequestOf(kind, instanceRef, args, options);
  if (options.statementTimeout !== undefined) request.statement_timeout = options.statementTimeout;
  return request;
}

async function runRequestOf(
  kind: "psql" | "pgbench",
  instanceRef: string,
  args: readonly string[],
  options: { cwd: string; stdin: () => Promise<string | undefined> },
): Promise<RunRequest> {
  const cwd = options.cwd;
  if (kind === "pgbench") return { instance_ref: instanceRef, kind, args: [...args], work_dir: cwd };
  const steps = await psqlRunSteps(args, cwd, options.stdin);
  const [only] = steps;
  return steps.length === 1 && only !== undefined && only.stdin === undefined
    ? { instance_ref: instanceRef, kind, args: only.args, work_dir: cwd }
    : { instance_ref: instanceRef, kind, steps, work_dir: cwd };
}
