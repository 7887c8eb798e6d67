/**
 * The engine's HTTP API as a function from `Request` to `Response`: routes, bearer-token auth,
 * error mapping and NDJSON streaming. `engine/main.ts` serves it with `Deno.serve`; tests call it
 * directly.
 *
 * @module
 */

import { z } from "../shared/deps.ts";
import {
  ConfigSetRequest,
  type DeleteResult,
  type EngineStatus,
  type ErrorResponse,
  type Health,
  type InstanceEntry,
  type PrepareBatchAnswer,
  PrepareBatchRequest,
  type PrepareBatchResponse,
  type PrepareJobAccepted,
  PrepareJobRequest,
  type PrepareJobStatus,
  PruneRequest,
  type PruneResult,
  RunRequest,
  SourceManifest,
} from "./../shared/schemas.ts";
import { invalidArgument, messageOf, SqlrsError, statusFor } from "../shared/errors.ts";
import { NdjsonStringifyStream } from "../shared/ndjson.ts";
import { compatibleVersions, VERSION_HEADER } from "../shared/version.ts";
import { parseBody, validated, zodIssueText } from "./api/validation.ts";
import type { ConfigStore } from "./config/config_store.ts";
import { engineConfigJsonSchema } from "./config/config_store.ts";
import type { JobService } from "./prepare/jobs.ts";
import type { Inventory } from "./inventory/inventory.ts";
import type { RunService } from "./run/runs.ts";
import type { Activity } from "./lifecycle/activity.ts";
import type { CacheCapacity } from "./cache/capacity.ts";
import type { PoolStatus } from "./pool/pool.ts";
import type { BlobStore } from "./sources/blob_store.ts";
import type { SourceTrees } from "./sources/source_trees.ts";
import { submitWithSource } from "./sources/source_prepare.ts";
import { fetchUrlInputs } from "./sources/url_inputs.ts";

/** Everything the API needs, wired once in `engine/main.ts`. */
export interface AppDeps {
  health: Health;
  token: string;
  config: ConfigStore;
  jobs: JobService;
  inventory: Inventory;
  runs: RunService;
  activity: Activity;
  capacity: CacheCapacity;
  /** `POST /v1/instances/{ref}/reset` (see engine/pool/reset.ts). */
  resetInstance(ref: string): Promise<InstanceEntry>;
  /** `GET /v1/pool`: the warm instances (see engine/pool/pool.ts). */
  poolStatus(): PoolStatus;
  /** Uploaded sources: manifests and their trees, and the blobs they link to. */
  sources: { trees: SourceTrees; blobs: BlobStore };
  /** `POST /v1/instances/prune`: see `engine/instances/prune.ts`. */
  prune(request: PruneRequest): Promise<PruneResult>;
  /** Aborted when the engine starts shutting down: open streams end, new requests get a 503. */
  stopping: AbortSignal;
  status(): Promise<EngineStatus>;
  shutdown(): void;
  log(line: string): void;
}

type Params = Record<string, string>;
type Handler = (request: Request, params: Params, url: URL) => Promise<Response> | Response;

interface Route {
  method: string;
  /** The path, `:name` matching one segment as the group `name`. */
  pattern: RegExp;
  handler: Handler;
}

/**
 * A route's path as a regular expression, each `:name` one segment. What URLPattern does, without
 * its cost: testing every route with it took a tenth of a fast hand-out.
 */
function pathPattern(pathname: string): RegExp {
  const segments = pathname.split("/").map((segment) =>
    segment.startsWith(":") ? `(?<${segment.slice(1)}>[^/]+)` : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  );
  return new RegExp(`^${segments.join("/")}$`);
}

function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** The status of a prepare's answer: 200 with the finished job of a cache hit, else 201 accepted. */
function prepareStatus(answer: PrepareJobAccepted | PrepareJobStatus): 200 | 201 {
  return "result" in answer ? 200 : 201;
}

/** What a request that threw answers: its SqlrsError, a zod error as a 400, anything else a (logged) 500. */
function errorOf(error: unknown, what: string, log: (line: string) => void): SqlrsError {
  if (error instanceof SqlrsError) return error;
  if (error instanceof z.ZodError) return invalidArgument(zodIssueText(error));
  log(`internal error on ${what}: ${error instanceof Error ? error.stack : error}`);
  return new SqlrsError("internal_error", `Internal error: ${messageOf(error)}`);
}

/** An error as the API answers it: its body, and the status its code has (see `ERROR_CODES`). */
function errorResponse(error: SqlrsError, headers: HeadersInit = {}): Response {
  return json(error.toJSON(), statusFor(error.code), headers);
}

/**
 * The answer to a delete: the tree in both cases, with the status of a `blocked` error when a blocked
 * node kept anything from being deleted (a dry run that would be blocked succeeds: it deleted nothing).
 */
function deleteResponse(result: DeleteResult): Response {
  return json(result, result.outcome === "blocked" && !result.dry_run ? statusFor("blocked") : 200);
}

function stoppingResponse(): Response {
  const error = new SqlrsError("unavailable", "The engine is shutting down; start a new one and retry");
  return json(error.toJSON(), statusFor(error.code), { "x-sqlrs-stopping": "true" });
}

/** The last line of a stream that failed after its status was sent: an `error` event. */
function streamErrorEvent(error: unknown): { type: "error"; ts: string; error: ErrorResponse } {
  const body = error instanceof SqlrsError
    ? error.toJSON()
    : { code: "internal_error" as const, message: `Internal error: ${messageOf(error)}` };
  return { type: "error", ts: new Date().toISOString(), error: body };
}

/**
 * Streams values as NDJSON; `onClose` runs when the stream ends or the client goes away. A source that
 * throws ends the stream with an `error` event, so that a client never sees a stream cut short.
 */
export function ndjsonResponse(
  source: AsyncIterable<unknown>,
  options: { status?: number; headers?: HeadersInit; onClose?: () => void } = {},
): Response {
  const iterator = source[Symbol.asyncIterator]();
  const stream = new ReadableStream<unknown>({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) {
          controller.close();
          options.onClose?.();
        } else controller.enqueue(next.value);
      } catch (error) {
        controller.enqueue(streamErrorEvent(error));
        controller.close();
        options.onClose?.();
      }
    },
    async cancel() {
      await iterator.return?.();
      options.onClose?.();
    },
  });
  return new Response(stream.pipeThrough(new NdjsonStringifyStream()).pipeThrough(new TextEncoderStream()), {
    status: options.status ?? 200,
    headers: { "content-type": "application/x-ndjson", ...options.headers },
  });
}

/** Answers a list as a JSON array, or as NDJSON when the client asks for `application/x-ndjson`. */
function listResponse(request: Request, items: readonly unknown[]): Response {
  if ((request.headers.get("accept") ?? "").includes("application/x-ndjson")) {
    return new Response(items.map((item) => `${JSON.stringify(item)}\n`).join(""), {
      headers: { "content-type": "application/x-ndjson" },
    });
  }
  return json(items);
}

function flag(url: URL, name: string): boolean {
  const value = url.searchParams.get(name);
  return value !== null && value !== "false" && value !== "0";
}

function tokensEqual(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** Parses `Range: events=N-` or `events=N-M` (inclusive). */
function parseEventRange(header: string | null): { from: number; to: number | undefined } | undefined {
  if (header === null) return undefined;
  const match = /^events=(\d+)-(\d*)$/.exec(header.trim());
  if (match === null) {
    throw invalidArgument(`Invalid Range header "${header}": expected events=N- or events=N-M`);
  }
  const from = Number(match[1]);
  const to = match[2] === "" ? undefined : Number(match[2]) + 1;
  if (to !== undefined && to <= from) throw invalidArgument(`Invalid Range header "${header}": empty range`);
  return { from, to };
}

function routes(deps: AppDeps): Route[] {
  const { config, jobs, inventory, runs } = deps;
  const table: Array<[string, string, Handler]> = [
    ["GET", "/v1/health", (request) => {
      // Unauthenticated, but tells a client whether its token would be accepted: one round trip
      // checks that the engine is alive, is the one engine.json names, and takes our token.
      const header = request.headers.get("authorization") ?? "";
      const authenticated = header.startsWith("Bearer ") && tokensEqual(header.slice(7), deps.token);
      return json({ ...deps.health, busy: deps.activity.busy() }, 200, {
        "x-sqlrs-authenticated": String(authenticated),
      });
    }],
    ["GET", "/v1/status", async () => json(await deps.status())],
    ["POST", "/v1/engine/shutdown", () => {
      queueMicrotask(() => deps.shutdown());
      return json({ ok: true }, 202);
    }],

    ["GET", "/v1/config", (_r, _p, url) => {
      const path = url.searchParams.get("path") ?? undefined;
      const value = config.get(path, flag(url, "effective"));
      return json(path === undefined ? value : { path, value });
    }],
    ["PATCH", "/v1/config", async (request) => {
      const body = await parseBody(request, ConfigSetRequest);
      return json({ path: body.path, value: await config.set(body.path, body.value) });
    }],
    ["DELETE", "/v1/config", async (_r, _p, url) => {
      const path = url.searchParams.get("path");
      if (path === null) throw invalidArgument("Missing query parameter path");
      return json({ path, value: await config.remove(path) });
    }],
    ["GET", "/v1/config/schema", () => json(engineConfigJsonSchema())],

    ["POST", "/v1/prepare-jobs", async (request, _p, url) => {
      const body = await parseBody(request, PrepareJobRequest);
      // ?wait=cached: a cache hit answers 200 with the finished job's status (see submitAndWaitIfCached).
      const waitIfCached = url.searchParams.get("wait") === "cached";
      const answer = await submitWithSource(
        deps.sources,
        body,
        (r) => waitIfCached ? jobs.submitAndWaitIfCached(r) : jobs.submit(r),
      );
      return json(answer, prepareStatus(answer), { location: `/v1/prepare-jobs/${answer.job_id}` });
    }],
    // Each as `POST /v1/prepare-jobs?wait=cached` alone, at once (see JobService.submitManyAndWaitIfCached).
    ["POST", "/v1/prepare-jobs/batch", async (request) => {
      const { requests } = await parseBody(request, PrepareBatchRequest);
      const checked = await Promise.allSettled(requests.map(async (item) => {
        const prepare = validated(PrepareJobRequest, item);
        if (prepare.source_id !== undefined) {
          throw invalidArgument("A prepare of uploaded sources goes on its own: POST /v1/prepare-jobs");
        }
        return await fetchUrlInputs(prepare, deps.sources.blobs);
      }));
      const valid = checked.flatMap((item) => item.status === "fulfilled" ? [item.value] : []);
      const submitted = await jobs.submitManyAndWaitIfCached(valid);
      const answers = checked.map((item): PrepareBatchAnswer => {
        const outcome = item.status === "rejected" ? item : submitted.shift();
        if (outcome?.status === "fulfilled") {
          return { status: prepareStatus(outcome.value), body: outcome.value };
        }
        const failure = errorOf(outcome?.reason, "POST /v1/prepare-jobs/batch", deps.log);
        return { status: statusFor(failure.code), body: failure.toJSON() };
      });
      return json({ answers } satisfies PrepareBatchResponse);
    }],
    ["GET", "/v1/prepare-jobs", (request) => listResponse(request, jobs.list())],
    ["GET", "/v1/prepare-jobs/:id", (_r, params) => json(jobs.status(params.id as string))],
    ["POST", "/v1/prepare-jobs/:id/cancel", (_r, params) => {
      const requested = jobs.cancel(params.id as string);
      return json(jobs.status(params.id as string), requested ? 202 : 200);
    }],
    ["DELETE", "/v1/prepare-jobs/:id", async (_r, params, url) => {
      const result = await inventory.deleteJob(params.id as string, {
        force: flag(url, "force"),
        dryRun: flag(url, "dry_run"),
      });
      return deleteResponse(result);
    }],
    ["GET", "/v1/prepare-jobs/:id/events", (request, params) => {
      const jobId = params.id as string;
      const total = jobs.eventCount(jobId);
      const range = parseEventRange(request.headers.get("range"));
      if (range !== undefined && range.from > total && jobs.isTerminal(jobId)) {
        return errorResponse(
          new SqlrsError("range_not_satisfiable", `Job ${jobId} has ${total} events`),
          { "content-range": `events */${total}` },
        );
      }
      const done = deps.activity.beginStream();
      const signal = AbortSignal.any([request.signal, deps.stopping]);
      const events = jobs.events(jobId, range?.from ?? 0, range?.to, signal);
      const headers: Record<string, string> = { "accept-ranges": "events" };
      if (range?.to !== undefined) headers["content-range"] = `events ${range.from}-${range.to - 1}/${total}`;
      return ndjsonResponse(events, { status: range?.to !== undefined ? 206 : 200, headers, onClose: done });
    }],
    ["POST", "/v1/sources", async (request) => {
      return json(await deps.sources.trees.register(await parseBody(request, SourceManifest)));
    }],
    ["HEAD", "/v1/sources/blobs/:sha256", async (_r, params) => {
      const upload = await deps.sources.blobs.status(params.sha256 as string);
      return new Response(null, {
        headers: { "upload-offset": String(upload.received), "x-sqlrs-complete": String(upload.complete) },
      });
    }],
    ["PUT", "/v1/sources/blobs/:sha256", async (request, params, url) => {
      const offset = Number(url.searchParams.get("offset") ?? "0");
      const size = Number(url.searchParams.get("size"));
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(size) || size < offset) {
        throw invalidArgument("Query parameters offset and size must be integers with 0 <= offset <= size");
      }
      return json(await deps.sources.blobs.append(params.sha256 as string, offset, size, request.body));
    }],
    ["GET", "/v1/cache/status", async () => json(await deps.capacity.status())],
    ["POST", "/v1/cache/explain/prepare", async (request) => {
      const body = await parseBody(request, PrepareJobRequest);
      return json(await submitWithSource(deps.sources, body, (r) => jobs.explain(r)));
    }],
    [
      "GET",
      "/v1/tasks",
      (request, _p, url) => listResponse(request, jobs.tasks(url.searchParams.get("job") ?? undefined)),
    ],

    ["GET", "/v1/instances", async (request, _p, url) =>
      listResponse(
        request,
        await inventory.listInstances({
          idPrefix: url.searchParams.get("id_prefix") ?? undefined,
          state: url.searchParams.get("state") ?? undefined,
        }),
      )],
    ["POST", "/v1/instances/prune", async (request) => {
      return json(await deps.prune(await parseBody(request, PruneRequest)));
    }],
    ["GET", "/v1/pool", () => json(deps.poolStatus())],
    [
      "POST",
      "/v1/instances/:ref/reset",
      async (_r, params) => json(await deps.resetInstance(params.ref as string)),
    ],
    ["GET", "/v1/instances/:ref", async (_r, params) => {
      const ref = params.ref as string;
      const { entry, byName } = await inventory.getInstance(ref);
      if (byName) {
        return new Response(null, {
          status: 307,
          headers: { location: `/v1/instances/${entry.instance_id}` },
        });
      }
      return json(entry);
    }],
    ["DELETE", "/v1/instances/:ref", async (_r, params, url) => {
      const result = await inventory.deleteInstance(params.ref as string, {
        force: flag(url, "force"),
        dryRun: flag(url, "dry_run"),
      });
      return deleteResponse(result);
    }],
    [
      "GET",
      "/v1/states",
      (request, _p, url) =>
        listResponse(
          request,
          inventory.listStates({ idPrefix: url.searchParams.get("id_prefix") ?? undefined }),
        ),
    ],
    ["GET", "/v1/states/:id", (_r, params) => json(inventory.getState(params.id as string))],
    ["DELETE", "/v1/states/:id", async (_r, params, url) => {
      const result = await inventory.deleteState(params.id as string, {
        recurse: flag(url, "recurse"),
        force: flag(url, "force"),
        dryRun: flag(url, "dry_run"),
      });
      return deleteResponse(result);
    }],
    ["GET", "/v1/names", (request) => listResponse(request, inventory.listNames())],
    ["GET", "/v1/names/:name", (_r, params) => json(inventory.getName(params.name as string))],

    ["POST", "/v1/runs", async (request) => {
      const body = await parseBody(request, RunRequest);
      const events = runs.start(body, AbortSignal.any([request.signal, deps.stopping]));
      return ndjsonResponse(events, { onClose: deps.activity.beginStream() });
    }],
  ];
  return table.map(([method, pathname, handler]) => ({
    method,
    pattern: pathPattern(pathname),
    handler,
  }));
}

/**
 * Refuses a client of another major version (one that does not say its version, e.g. curl, is served).
 * @throws {SqlrsError} `incompatible_version`
 */
function checkClientVersion(client: string | null, engine: string): void {
  if (client === null || compatibleVersions(client, engine)) return;
  throw new SqlrsError(
    "incompatible_version",
    `This engine is sqlrs ${engine} and the client sqlrs ${client}: their major versions differ. ` +
      `Stop the engine ("sqlrs engine stop" with the engine's own sqlrs) so that the client starts its own, ` +
      `or use a sqlrs ${engine.split(".")[0]}.x client`,
    { details: { engine_version: engine, client_version: client } },
  );
}

/** No id, name, prefix or path the API takes is longer than this. */
const MAX_PARAMETER_LENGTH = 1024;

/** Refuses oversized path and query parameters before any handler sees them. */
function checkLengths(params: Params, url: URL): void {
  const values = [...Object.entries(params), ...url.searchParams.entries()];
  for (const [name, value] of values) {
    if (value !== undefined && value.length > MAX_PARAMETER_LENGTH) {
      throw invalidArgument(
        `Parameter ${name} is too long (${value.length} characters; at most ${MAX_PARAMETER_LENGTH})`,
      );
    }
  }
}

/** Builds the engine's request handler. */
export function createApp(deps: AppDeps): (request: Request) => Promise<Response> {
  const table = routes(deps);
  async function dispatch(request: Request, url: URL): Promise<Response> {
    const matches = table.filter((route) => route.pattern.test(url.pathname));
    if (matches.length === 0) throw new SqlrsError("not_found", `No such endpoint: ${url.pathname}`);
    const route = matches.find((candidate) => candidate.method === request.method);
    if (route === undefined) {
      throw new SqlrsError(
        "method_not_allowed",
        `Method ${request.method} is not allowed on ${url.pathname}`,
      );
    }
    if (url.pathname !== "/v1/health") {
      const header = request.headers.get("authorization") ?? "";
      const token = header.startsWith("Bearer ") ? header.slice(7) : "";
      if (!tokensEqual(token, deps.token)) {
        throw new SqlrsError("unauthorized", "Missing or wrong bearer token (see engine.json)");
      }
      // Any sqlrs may stop an engine, e.g. to replace an idle one of another version with its own.
      if (url.pathname !== "/v1/engine/shutdown") {
        checkClientVersion(request.headers.get(VERSION_HEADER), deps.health.version);
      }
    }
    const params = route.pattern.exec(url.pathname)?.groups ?? {};
    checkLengths(params as Params, url);
    return await route.handler(request, params as Params, url);
  }

  return async function handle(request: Request): Promise<Response> {
    const started = performance.now();
    const url = new URL(request.url);
    deps.activity.touch();
    let response: Response;
    try {
      // A stopping engine accepts nothing new (not even health, so discovery looks elsewhere); the
      // header tells a client that this request was not acted on and can go to the next engine.
      if (deps.stopping.aborted) response = stoppingResponse();
      else response = await dispatch(request, url);
    } catch (error) {
      response = errorResponse(errorOf(error, `${request.method} ${url.pathname}`, deps.log));
    }
    deps.log(
      `${request.method} ${url.pathname}${url.search} ${response.status} ${
        (performance.now() - started).toFixed(1)
      }ms`,
    );
    return response;
  };
}
