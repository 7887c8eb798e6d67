/**
 * A typed client of the engine API over a unix socket or loopback TCP. Every response is parsed
 * with the schemas of `shared/schemas.ts`; an error answer becomes an {@link ApiError}.
 *
 * @module
 */

import type { z } from "../shared/deps.ts";
import {
  BlobUpload,
  CacheExplain,
  CacheStatus,
  ConfigValue,
  DeleteResult,
  EngineStatus,
  ErrorResponse,
  Health,
  InstanceEntry,
  MAX_PREPARE_BATCH,
  NameEntry,
  PrepareBatchResponse,
  PrepareJobAccepted,
  PrepareJobEntry,
  PrepareJobEvent,
  type PrepareJobRequest,
  PrepareJobStatus,
  type PruneRequest,
  PruneResult,
  RunEvent,
  type RunRequest,
  type SourceManifest,
  SourceManifestAccepted,
  StateEntry,
  TaskEntry,
} from "../shared/schemas.ts";
import { ERROR_CODES, type ErrorCode, SqlrsError } from "../shared/errors.ts";
import { parseNdjson } from "../shared/ndjson.ts";
import { Coalescer } from "./coalescer.ts";
import { VERSION, VERSION_HEADER } from "../shared/version.ts";
import { submitUploading, type UploadStats } from "./sources/upload.ts";

/** The answer to a prepare with `?wait=cached`: the finished job of a cache hit, else the accepted job. */
export type WaitCachedAnswer = { status: PrepareJobStatus } | { accepted: PrepareJobAccepted };

/** A `?wait=cached` answer from its HTTP status and body; an error status throws {@link ApiError}. */
function waitCachedAnswer(status: number, body: unknown): WaitCachedAnswer {
  if (status === 200) return { status: PrepareJobStatus.parse(body) };
  if (status === 201) return { accepted: PrepareJobAccepted.parse(body) };
  const error = ErrorResponse.safeParse(body);
  throw new ApiError(
    status,
    error.success ? error.data : { code: "internal_error", message: `Engine answered ${status}` },
  );
}

/** An error the engine answered with. */
export class ApiError extends SqlrsError {
  readonly status: number;
  constructor(status: number, body: ErrorResponse) {
    const code = (body.code in ERROR_CODES ? body.code : "internal_error") as ErrorCode;
    super(code, body.message, body.details === undefined ? undefined : { details: body.details });
    this.name = "ApiError";
    this.status = status;
  }
}

/** The engine could not be reached at all. */
export class EngineUnreachableError extends SqlrsError {
  /**
   * Whether the request was certainly not acted on, so that sending it again (to the next engine)
   * does nothing twice: its connection failed before any answer, or the engine answered that it is
   * shutting down. An engine that shuts down finishes the requests it began, so a connection it
   * drops carried no request it acted on; only a crash in the middle of a request can break that.
   */
  readonly notDelivered: boolean;
  constructor(message: string, cause?: unknown, notDelivered = false) {
    super("unavailable", message, { cause });
    this.name = "EngineUnreachableError";
    this.notDelivered = notDelivered;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Where an engine listens and how to authenticate. */
export interface EngineAddress {
  /** `unix:///abs/path.sock`, `http://127.0.0.1:PORT`, or a team engine's `https://HOST:PORT`. */
  endpoint: string;
  token: string;
  /** PEM certificates to trust besides the system's (a team engine's own CA). */
  caCerts?: string[] | undefined;
}

/** Options of a client. */
export interface EngineClientOptions {
  /** Per-request timeout in ms for non-streaming calls (default 30 s). */
  timeoutMs?: number | undefined;
  /**
   * Upload the files a prepare reads to the engine (content-addressed, resumable) instead of letting
   * the engine read them from its own filesystem: what a remote engine needs. @default false
   */
  uploadSources?: boolean | undefined;
}

/** How a client finds the next engine when its engine goes away. */
export interface ReconnectOptions {
  /** Finds (or starts) the engine again; called when a request could not reach the current one. */
  reconnect: () => Promise<EngineAddress>;
  /** How long to keep reconnecting after the first failure, in ms. @default the request timeout */
  reachTimeoutMs?: number | undefined;
}

interface RequestOptions {
  body?: unknown;
  /** Bytes sent as they are (`application/octet-stream`) instead of a JSON `body`. */
  bytes?: Uint8Array<ArrayBuffer>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Streaming responses are not subject to the timeout. */
  stream?: boolean;
  /** Error statuses whose body is a regular answer (a blocked delete answers 409 with its tree). */
  allow?: number[];
}

/** Query string from defined values. */
function query(params: Record<string, string | boolean | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== false) search.set(key, String(value));
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

interface Target {
  address: EngineAddress;
  baseUrl: string;
  httpClient: Deno.HttpClient | undefined;
}

function targetOf(address: EngineAddress): Target {
  if (!address.endpoint.startsWith("unix://")) {
    const caCerts = address.caCerts;
    const httpClient = caCerts === undefined ? undefined : Deno.createHttpClient({ caCerts });
    return { address, baseUrl: address.endpoint.replace(/\/$/, ""), httpClient };
  }
  const httpClient = Deno.createHttpClient({ proxy: { transport: "unix", path: address.endpoint.slice(7) } });
  return { address, baseUrl: "http://localhost", httpClient };
}

/**
 * Talks to the engine. With {@link ReconnectOptions}, a request that did not reach the engine (it
 * was gone, or shutting down) is sent again to the engine `reconnect` finds, within `reachTimeoutMs`.
 */
export class EngineClient implements Disposable {
  #target: Target;
  /** Clients of engines left behind, closed on dispose (a stream may still be reading one). */
  readonly #retired: Target[] = [];
  readonly #timeoutMs: number;
  readonly #reconnect: ReconnectOptions | undefined;
  readonly #uploadSources: boolean;
  /** Prepares made together go in one request (see {@link EngineClient.submitPrepareWaitCached}). */
  readonly #prepares = new Coalescer<PrepareJobRequest, WaitCachedAnswer>(
    (request) => this.#submitWaitCached(request),
    (requests) => this.#submitBatch(requests),
    MAX_PREPARE_BATCH,
  );
  /** Whether the engine takes batches (false once it answered one with 404). */
  #batches = true;

  constructor(address: EngineAddress, options: EngineClientOptions & Partial<ReconnectOptions> = {}) {
    this.#target = targetOf(address);
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#uploadSources = options.uploadSources === true;
    this.#reconnect = options.reconnect === undefined
      ? undefined
      : { reconnect: options.reconnect, reachTimeoutMs: options.reachTimeoutMs };
  }

  /** The engine currently talked to. */
  get address(): EngineAddress {
    return this.#target.address;
  }

  [Symbol.dispose](): void {
    for (const target of [this.#target, ...this.#retired]) target.httpClient?.close();
  }

  /** Sends a request; a non-2xx answer throws {@link ApiError}. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    if (this.#reconnect === undefined) return await this.#send(method, path, options);
    const reachTimeoutMs = this.#reconnect.reachTimeoutMs ?? this.#timeoutMs;
    let deadline: number | undefined;
    let lost = false;
    for (let attempt = 0;; attempt++) {
      try {
        if (lost) {
          const address = await this.#reconnect.reconnect();
          if (address.endpoint !== this.address.endpoint || address.token !== this.address.token) {
            this.#retired.push(this.#target);
            this.#target = targetOf(address);
          }
          lost = false;
        }
        return await this.#send(method, path, options);
      } catch (error) {
        const retry = error instanceof EngineUnreachableError && (lost || error.notDelivered);
        if (!retry || options.signal?.aborted) throw error;
        lost = true;
        deadline ??= Date.now() + reachTimeoutMs;
        if (Date.now() >= deadline) {
          throw new EngineUnreachableError(
            `Cannot reach the engine within ${reachTimeoutMs} ms (--timeout): ${error.message}`,
            error,
          );
        }
        await delay(Math.min(25 * 2 ** attempt, 500));
      }
    }
  }

  /** One attempt at a request against the current engine. */
  async #send(method: string, path: string, options: RequestOptions): Promise<Response> {
    const { baseUrl, httpClient, address } = this.#target;
    const headers: Record<string, string> = { ...options.headers, [VERSION_HEADER]: VERSION };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (options.bytes !== undefined) headers["content-type"] = "application/octet-stream";
    const signals = [options.signal, options.stream ? undefined : AbortSignal.timeout(this.#timeoutMs)]
      .filter(
        (signal): signal is AbortSignal => signal !== undefined,
      );
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { ...headers, authorization: `Bearer ${address.token}` },
        redirect: "manual",
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        ...(options.bytes === undefined ? {} : { body: options.bytes }),
        ...(signals.length === 0 ? {} : { signal: AbortSignal.any(signals) }),
        ...(httpClient === undefined ? {} : { client: httpClient }),
      });
    } catch (error) {
      if (error instanceof DOMException && error.name === "TimeoutError") {
        throw new EngineUnreachableError(
          `The engine did not answer ${method} ${path} within ${this.#timeoutMs} ms`,
          error,
        );
      }
      if (error instanceof DOMException && error.name === "AbortError") throw error;
      // fetch says only "fetch failed"; the cause says what happened (refused, reset, ...).
      const why =
        (error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error))
          .replace(/^error sending request for url \([^)]*\): /, "");
      throw new EngineUnreachableError(
        `Cannot reach the engine at ${address.endpoint}: ${why}`,
        error,
        true,
      );
    }
    if (response.status === 503 && response.headers.get("x-sqlrs-stopping") === "true") {
      await response.body?.cancel();
      throw new EngineUnreachableError(`The engine at ${address.endpoint} is shutting down`, undefined, true);
    }
    if (response.status >= 400 && !(options.allow ?? []).includes(response.status)) {
      const text = await response.text();
      let body: ErrorResponse;
      try {
        body = ErrorResponse.parse(JSON.parse(text));
      } catch {
        body = {
          code: "internal_error",
          message: `Engine answered ${response.status}: ${text.slice(0, 200)}`,
        };
      }
      throw new ApiError(response.status, body);
    }
    return response;
  }

  async #json<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<z.infer<S>> {
    const response = await this.request(method, path, options);
    return schema.parse(await response.json());
  }

  async *#stream<S extends z.ZodType>(schema: S, response: Response): AsyncGenerator<z.infer<S>> {
    if (response.body === null) return;
    for await (const value of parseNdjson(response.body)) yield schema.parse(value);
  }

  /** `GET /v1/health`; `authenticated` tells whether our token was accepted. */
  async health(): Promise<Health & { authenticated: boolean }> {
    const response = await this.request("GET", "/v1/health");
    const health = Health.parse(await response.json());
    return { ...health, authenticated: response.headers.get("x-sqlrs-authenticated") === "true" };
  }

  status(): Promise<EngineStatus> {
    return this.#json(EngineStatus, "GET", "/v1/status");
  }

  async shutdown(): Promise<void> {
    await (await this.request("POST", "/v1/engine/shutdown")).body?.cancel();
  }

  async configGet(path: string | undefined, effective: boolean): Promise<unknown> {
    const response = await this.request("GET", `/v1/config${query({ path, effective })}`);
    const body = await response.json();
    return path === undefined ? body : ConfigValue.parse(body).value;
  }

  async configSet(path: string, value: unknown): Promise<unknown> {
    return (await this.#json(ConfigValue, "PATCH", "/v1/config", { body: { path, value } })).value;
  }

  async configRemove(path: string): Promise<unknown> {
    return (await this.#json(ConfigValue, "DELETE", `/v1/config${query({ path })}`)).value;
  }

  async configSchema(): Promise<unknown> {
    return await (await this.request("GET", "/v1/config/schema")).json();
  }

  /**
   * `POST /v1/prepare-jobs`. With `uploadSources`, the files the prepare reads are uploaded first and
   * the answer says how many files and bytes were sent.
   */
  async submitPrepare(request: PrepareJobRequest): Promise<PrepareJobAccepted & { upload?: UploadStats }> {
    if (this.#uploadSources) return await submitUploading(this, request, (r) => this.submitPrepareAs(r));
    return await this.submitPrepareAs(request);
  }

  /**
   * Submits a prepare (uploading as {@link submitPrepare} does) and, when its final state is cached, gets
   * the finished job's status in the same round trip (`?wait=cached`); otherwise the job is accepted.
   */
  async submitPrepareWaitCached(
    request: PrepareJobRequest,
  ): Promise<WaitCachedAnswer & { upload?: UploadStats }> {
    if (this.#uploadSources) return await submitUploading(this, request, (r) => this.#submitWaitCached(r));
    return await this.#prepares.submit(request);
  }

  async #submitWaitCached(request: PrepareJobRequest): Promise<WaitCachedAnswer> {
    const response = await this.request("POST", "/v1/prepare-jobs?wait=cached", { body: request });
    return waitCachedAnswer(response.status, await response.json());
  }

  /**
   * Prepares sent together, each answered as alone. An engine without batches (an older one, or a
   * team engine, which takes each prepare on its own) answers 404: then each goes alone, from now on.
   */
  async #submitBatch(requests: PrepareJobRequest[]): Promise<PromiseSettledResult<WaitCachedAnswer>[]> {
    if (this.#batches) {
      try {
        const response = await this.request("POST", "/v1/prepare-jobs/batch", { body: { requests } });
        const { answers } = PrepareBatchResponse.parse(await response.json());
        return answers.map(({ status, body }) => {
          try {
            return { status: "fulfilled", value: waitCachedAnswer(status, body) };
          } catch (reason) {
            return { status: "rejected", reason };
          }
        });
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
        this.#batches = false;
      }
    }
    return await Promise.allSettled(requests.map((request) => this.#submitWaitCached(request)));
  }

  /** `POST /v1/instances/{ref}/reset`: the instance back to its state, same DSN. */
  async resetInstance(ref: string): Promise<InstanceEntry> {
    return await this.#json(InstanceEntry, "POST", `/v1/instances/${encodeURIComponent(ref)}/reset`);
  }

  /** `POST /v1/prepare-jobs` as it is, whatever `uploadSources` says. */
  submitPrepareAs(request: PrepareJobRequest): Promise<PrepareJobAccepted> {
    return this.#json(PrepareJobAccepted, "POST", "/v1/prepare-jobs", { body: request });
  }

  /** `POST /v1/sources`: registers a manifest, answers the hashes the engine lacks. */
  registerSources(manifest: SourceManifest): Promise<SourceManifestAccepted> {
    return this.#json(SourceManifestAccepted, "POST", "/v1/sources", { body: manifest });
  }

  /** `HEAD /v1/sources/blobs/{sha256}`: how many bytes of a blob the engine holds. */
  async blobStatus(sha256: string): Promise<BlobUpload> {
    const response = await this.request("HEAD", `/v1/sources/blobs/${sha256}`);
    await response.body?.cancel();
    return {
      sha256,
      received: Number(response.headers.get("upload-offset") ?? "0"),
      complete: response.headers.get("x-sqlrs-complete") === "true",
    };
  }

  /** `PUT /v1/sources/blobs/{sha256}`: one chunk of a blob of `size` bytes, at `offset`. */
  putBlobChunk(
    sha256: string,
    offset: number,
    size: number,
    chunk: Uint8Array<ArrayBuffer>,
  ): Promise<BlobUpload> {
    return this.#json(
      BlobUpload,
      "PUT",
      `/v1/sources/blobs/${sha256}${query({ offset: String(offset), size: String(size) })}`,
      {
        bytes: chunk,
      },
    );
  }

  job(jobId: string): Promise<PrepareJobStatus> {
    return this.#json(PrepareJobStatus, "GET", `/v1/prepare-jobs/${encodeURIComponent(jobId)}`);
  }

  async cancelJob(jobId: string): Promise<PrepareJobStatus> {
    return await this.#json(PrepareJobStatus, "POST", `/v1/prepare-jobs/${encodeURIComponent(jobId)}/cancel`);
  }

  /** A job's events from `from` on, following the live log until the job ends. */
  async *jobEvents(
    jobId: string,
    options: { from?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<PrepareJobEvent> {
    const response = await this.request("GET", `/v1/prepare-jobs/${encodeURIComponent(jobId)}/events`, {
      headers: { range: `events=${options.from ?? 0}-` },
      stream: true,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    yield* this.#stream(PrepareJobEvent, response);
  }

  cacheStatus(): Promise<CacheStatus> {
    return this.#json(CacheStatus, "GET", "/v1/cache/status");
  }

  /** Hit/miss per step of a prepare request, and why, without creating a job. */
  explainPrepare(request: PrepareJobRequest): Promise<CacheExplain> {
    return this.#json(CacheExplain, "POST", "/v1/cache/explain/prepare", { body: request });
  }

  listJobs(): Promise<PrepareJobEntry[]> {
    return this.#json(PrepareJobEntry.array(), "GET", "/v1/prepare-jobs");
  }

  listTasks(jobId?: string): Promise<TaskEntry[]> {
    return this.#json(TaskEntry.array(), "GET", `/v1/tasks${query({ job: jobId })}`);
  }

  listInstances(filter: { idPrefix?: string; state?: string } = {}): Promise<InstanceEntry[]> {
    return this.#json(
      InstanceEntry.array(),
      "GET",
      `/v1/instances${query({ id_prefix: filter.idPrefix, state: filter.state })}`,
    );
  }

  /** An instance by id, prefix or name (a name answers 307 to the id URL, which is followed). */
  async instance(ref: string): Promise<InstanceEntry> {
    const response = await this.request("GET", `/v1/instances/${encodeURIComponent(ref)}`);
    if (response.status === 307) {
      await response.body?.cancel();
      return this.#json(InstanceEntry, "GET", response.headers.get("location") ?? "");
    }
    return InstanceEntry.parse(await response.json());
  }

  listStates(filter: { idPrefix?: string } = {}): Promise<StateEntry[]> {
    return this.#json(StateEntry.array(), "GET", `/v1/states${query({ id_prefix: filter.idPrefix })}`);
  }

  listNames(): Promise<NameEntry[]> {
    return this.#json(NameEntry.array(), "GET", "/v1/names");
  }

  /** Deletes an instance, a state (tree) or a job. Blocked deletes answer with the tree, not an error. */
  async delete(
    kind: "instances" | "states" | "prepare-jobs",
    id: string,
    options: { force?: boolean; dryRun?: boolean; recurse?: boolean } = {},
  ): Promise<DeleteResult> {
    const path = `/v1/${kind}/${encodeURIComponent(id)}${
      query({ force: options.force, dry_run: options.dryRun, recurse: options.recurse })
    }`;
    const response = await this.request("DELETE", path, { allow: [409] });
    const body = await response.json();
    // A 409 is a regular answer when it carries the blocked tree; one in the error shape (the
    // backend refused, e.g. a clone still uses the state) is an error like any other.
    const tree = DeleteResult.safeParse(body);
    if (tree.success) return tree.data;
    const error = ErrorResponse.safeParse(body);
    if (response.status >= 400 && error.success) throw new ApiError(response.status, error.data);
    throw tree.error;
  }

  /** Deletes (with `dry_run`, lists) the instances nobody holds on to; see `engine/instances/prune.ts`. */
  prune(request: PruneRequest): Promise<PruneResult> {
    return this.#json(PruneResult, "POST", "/v1/instances/prune", { body: request });
  }

  /** Runs psql or pgbench in an instance, yielding its events as the child produces output. */
  async *run(request: RunRequest, signal?: AbortSignal): AsyncGenerator<RunEvent> {
    const response = await this.request("POST", "/v1/runs", {
      body: request,
      stream: true,
      ...(signal === undefined ? {} : { signal }),
    });
    yield* this.#stream(RunEvent, response);
  }
}
