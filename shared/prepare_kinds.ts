/**
 * The registry of prepare kinds (`prepare:<kind>`, `plan:<kind>`) for everything outside the engine:
 * the CLI builds its commands from it, clients build requests and list uploads through it, recipes
 * and `cache explain` accept its names, and the API's `PrepareJobRequest` is the union of its
 * requests. The engine's registry (`engine/prepare/kinds.ts`) holds one implementation per name (the
 * compiler refuses a name without one).
 *
 * Adding a kind: the CLI and clients and the engine are separate programs, so a kind has two halves.
 * Here, a file `shared/prepare_kinds/<kind>.ts` exporting a {@link PrepareKindSpec} (name, CLI text,
 * request schema, request builder, upload list) and one line in {@link PREPARE_KIND_SPECS}; in the
 * engine, a folder `engine/prepare/<kind>/` and one line in `engine/prepare/kinds.ts`. For the
 * library, `mod.ts`'s options name the kind's args too (`PlanOptions` in `client/prepare_job.ts`; the
 * compiler asks for that field).
 *
 * @module
 */

import { z } from "./deps.ts";
import { typed } from "./schemas/_typed.ts";
import type { PrepareKindSpec } from "./prepare_kinds/kind.ts";
import { psqlSpec } from "./prepare_kinds/psql.ts";
import { liquibaseSpec } from "./prepare_kinds/lb.ts";

export type { PrepareKindInfo, PrepareKindSpec, RequestCaller } from "./prepare_kinds/kind.ts";

/** Every prepare kind, in the order the CLI lists its commands. */
export const PREPARE_KIND_SPECS = [psqlSpec, liquibaseSpec] as const;

type AnySpec = (typeof PREPARE_KIND_SPECS)[number];

/** A prepare kind's name (`prepare_kind` of a request). */
export type PrepareKindName = AnySpec["name"];

/** The name of every prepare kind, in the order of {@link PREPARE_KIND_SPECS}. */
export const PREPARE_KINDS: readonly PrepareKindName[] = PREPARE_KIND_SPECS.map((spec) => spec.name);

/** Whether `value` names a prepare kind. */
export function isPrepareKindName(value: unknown): value is PrepareKindName {
  return (PREPARE_KINDS as readonly unknown[]).includes(value);
}

type RequestOfSpec<S> = S extends PrepareKindSpec<infer R, string> ? R : never;

/** `POST /v1/prepare-jobs` body: one request per prepare kind, told apart by `prepare_kind`. */
export type PrepareJobRequest = RequestOfSpec<AnySpec>;
/** `POST /v1/prepare-jobs` body. */
export const PrepareJobRequest: z.ZodType<PrepareJobRequest> = typed<PrepareJobRequest>()(
  z.discriminatedUnion(
    "prepare_kind",
    PREPARE_KIND_SPECS.map((spec) => spec.schema) as [AnySpec["schema"], ...AnySpec["schema"][]],
  ),
);

/** The kind named `name`. */
export function prepareKindSpec(name: PrepareKindName): PrepareKindSpec<PrepareJobRequest> {
  return PREPARE_KIND_SPECS.find((spec) => spec.name === name) as PrepareKindSpec<PrepareJobRequest>;
}

/** The `prepare:<kind>` command of each kind. */
export const PREPARE_COMMANDS: readonly string[] = PREPARE_KINDS.map((kind) => `prepare:${kind}`);
