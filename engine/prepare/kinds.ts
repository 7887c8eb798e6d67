/**
 * The engine's registry of prepare kinds: one implementation per name of `shared/prepare_kinds.ts`
 * (the compiler refuses a name without one). Jobs plan through it, the executor asks it what a kind's
 * build server needs, uploaded sources and fetched URLs are placed by it, and a team engine asks it
 * what to refuse; nothing else in the engine knows which kinds there are.
 *
 * Adding a kind: the kind's file `shared/prepare_kinds/<kind>.ts` and its line in the shared registry
 * (name, CLI text, request; see `shared/prepare_kinds.ts`), then a folder `engine/prepare/<kind>/`
 * exporting a {@link PrepareKind} and one line in `KINDS` here.
 *
 * @module
 */

import type { PrepareKindName } from "../../shared/prepare_kinds.ts";
import type { EngineConfig, PrepareJobRequest } from "../../shared/schemas.ts";
import type { Runtime, ServerHandle } from "../runtime/types.ts";
import type { Plan, PlannerDeps } from "./planner.ts";
import { psqlKind } from "./psql/psql_kind.ts";
import { liquibaseKind } from "./liquibase/lb_kind.ts";

/** The request of kind `K`. */
export type RequestOf<K extends PrepareKindName> = Extract<PrepareJobRequest, { prepare_kind: K }>;

/** What a kind may use while it plans. */
export interface KindPlanDeps extends PlannerDeps {
  /** The engine's effective config (e.g. `liquibase.exec`). */
  config: EngineConfig;
  /** The store's root: a kind may cache what planning learned under it (and must not read it as input). */
  storeRoot: string;
  /** Runs `fn` against a server started on a clone of the base of the image. */
  withBaseServer<T>(
    imageId: string | undefined,
    fn: (runtime: Runtime, server: ServerHandle) => Promise<T>,
  ): Promise<T>;
}

/**
 * A kind whose planning runs its tool against a server (seconds): a submit plans only from what is
 * cached and otherwise checks the request and leaves the planning to the job.
 */
export interface SlowPlanning<R extends PrepareJobRequest> {
  /** Refuses a bad request (a 400) without planning it. */
  check(request: R): void;
  /** The plan from what is cached, or null where the tool would have to run. */
  planCached(request: R, deps: KindPlanDeps): Promise<Plan | null>;
}

/** One prepare kind: how its requests are checked and planned (each planned step carries its action). */
export interface PrepareKind<R extends PrepareJobRequest> {
  /** Plans a request; bad input throws a 400 (`invalid_argument`). */
  plan(request: R, deps: KindPlanDeps): Promise<Plan>;
  /** Set when planning is slow; see {@link SlowPlanning}. */
  slowPlanning?: SlowPlanning<R>;
  /** Whether the build server needs a password: the kind's tool connects over TCP, not the socket. */
  buildPassword?: boolean;
  /**
   * The request with the local paths of its tool args at `inside(absolute path)`: where an uploaded
   * source tree holds them (`work_dir` and `source_id` are the caller's to change).
   */
  intoTree(request: R, inside: (path: string) => string): Promise<R>;
  /** The request with each URL input replaced by the path `fetch` gives of its content; unset: none. */
  withUrlInputs?(request: R, fetch: (url: string) => Promise<string>): Promise<R>;
  /**
   * Refuses, before planning on a team engine, a request that would reach beyond its database; every
   * file it reads must be under `root` (the uploaded source tree; null: it may read none). Unset: a
   * team engine does not serve the kind.
   * @throws {SqlrsError} `invalid_argument`
   */
  remoteCheck?(request: R, root: string | null): Promise<void>;
}

const KINDS: { [K in PrepareKindName]: PrepareKind<RequestOf<K>> } = {
  psql: psqlKind,
  lb: liquibaseKind,
};

/** The kind of `request`, typed for any request (each entry only ever gets requests of its own kind). */
export function prepareKindOf(request: PrepareJobRequest): PrepareKind<PrepareJobRequest> {
  return prepareKind(request.prepare_kind);
}

/** The kind named `name`. */
export function prepareKind(name: PrepareKindName): PrepareKind<PrepareJobRequest> {
  return KINDS[name] as PrepareKind<PrepareJobRequest>;
}
