/**
 * The API contract between the sqlrs CLI (and any client) and the engine: zod schemas of every
 * request, response, NDJSON event, error body and the engine config. The engine validates every
 * request body with these schemas and clients parse every response with them.
 *
 * Each schema has an explicitly declared TypeScript type of the same name (so the published API has
 * no slow types); a compile-time check keeps each declaration equal to what its schema parses.
 *
 * @example Validate a prepare request
 * ```ts
 * import { PrepareJobRequest } from "@sqlrs/sqlrs/schemas";
 * const request = PrepareJobRequest.parse({
 *   prepare_kind: "psql",
 *   psql_args: ["-c", "create table t(id int)"],
 *   work_dir: "/tmp",
 * });
 * if (request.prepare_kind !== "psql") throw new Error("unexpected kind");
 * ```
 *
 * The schemas live in `shared/schemas/`, one file per part of the API, except the prepare requests,
 * which each prepare kind owns (`shared/prepare_kinds/`); this module re-exports them.
 *
 * @module
 */

export * from "./schemas/common.ts";
export * from "./schemas/discovery.ts";
export * from "./schemas/config.ts";
export * from "./schemas/status.ts";
export * from "./schemas/jobs.ts";
export { PrepareJobRequest } from "./prepare_kinds.ts";
export type { PrepareRequestCommon } from "./schemas/prepare_request.ts";
export { PrepareJobRequestPsql } from "./prepare_kinds/psql.ts";
export { PrepareJobRequestLiquibase } from "./prepare_kinds/lb.ts";
export * from "./schemas/inventory.ts";
export * from "./schemas/runs.ts";
export * from "./schemas/cache.ts";
export * from "./schemas/sources.ts";
