/**
 * What every prepare kind's request has besides `prepare_kind` and its tool args; each kind's request
 * (`shared/prepare_kinds/<kind>.ts`) spreads these fields into its schema.
 *
 * @module
 */

import { z } from "../deps.ts";
import { Duration, StateId } from "./common.ts";

const InstanceName = z.string().regex(
  /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/,
  "a name starts with a letter: letters, digits, _ . -",
);

/** A request's `image_id`; a kind's schema puts it before its tool args. */
export const ImageId: z.ZodString = z.string().min(1);

/**
 * The fields of every kind's prepare request after its tool args (`image_id` goes before them, so that
 * validation reports the fields in the order they always had).
 */
export const CommonRequestFields = {
  work_dir: z.string().startsWith("/", "work_dir must be an absolute path"),
  plan_only: z.boolean().optional(),
  name: InstanceName.optional(),
  rebind: z.boolean().optional(),
  keep_old: z.boolean().optional(),
  ttl: Duration.optional(),
  deadline: Duration.optional(),
  statement_timeout: Duration.optional(),
  source_id: StateId.optional(),
  pool_size: z.number().int().min(0).max(64).optional(),
};

/** What every kind's prepare request has besides `prepare_kind` and its tool args. */
export interface PrepareRequestCommon {
  image_id?: string | undefined;
  /** Where relative paths of the tool args resolve and the tool runs; absolute. */
  work_dir: string;
  plan_only?: boolean | undefined;
  name?: string | undefined;
  rebind?: boolean | undefined;
  /** With `rebind`: keep the instance the name pointed to (by default it is deleted once the name moves). */
  keep_old?: boolean | undefined;
  ttl?: string | undefined;
  /** The job's wall-clock limit from its submission; when it passes, the job is cancelled. */
  deadline?: string | undefined;
  /** PostgreSQL's `statement_timeout` for every step; not part of a state's key (see README, Deadlines). */
  statement_timeout?: string | undefined;
  /** The uploaded source tree (`POST /v1/sources`) the job reads its files from instead of the engine's. */
  source_id?: string | undefined;
  /** Warm instances to keep of the final state (a recipe's `pool`), instead of the engine config's. */
  pool_size?: number | undefined;
}
