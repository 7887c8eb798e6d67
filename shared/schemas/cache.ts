/**
 * The state cache: status, eviction reports and `cache explain`.
 *
 * @module
 */

import { z } from "../deps.ts";
import { typed } from "./_typed.ts";
import { StateId, Timestamp } from "./common.ts";

/** What one eviction run did. */
export interface EvictionReport {
  completed_at: string;
  trigger: string;
  evicted_count: number;
  freed_bytes: number;
  blocked_count: number;
  usage_bytes_before: number;
  usage_bytes_after: number;
  free_bytes_before: number;
  free_bytes_after: number;
}
/** What one eviction run did. */
export const EvictionReport: z.ZodType<EvictionReport> = typed<EvictionReport>()(z.object({
  completed_at: Timestamp,
  trigger: z.string(),
  evicted_count: z.number().int(),
  freed_bytes: z.number().int(),
  blocked_count: z.number().int(),
  usage_bytes_before: z.number().int(),
  usage_bytes_after: z.number().int(),
  free_bytes_before: z.number().int(),
  free_bytes_after: z.number().int(),
}));

/** `GET /v1/cache/status`: the bounded cache's diagnostics. */
export interface CacheStatus {
  usage_bytes: number;
  configured_max_bytes: number | null;
  effective_max_bytes: number;
  reserve_bytes: number;
  high_watermark: number;
  low_watermark: number;
  min_state_age: string;
  store_total_bytes: number;
  store_free_bytes: number;
  state_count: number;
  reclaimable_bytes: number;
  blocked_count: number;
  pressure_reasons: string[];
  last_eviction: EvictionReport | null;
}
/** `GET /v1/cache/status`: the bounded cache's diagnostics. */
export const CacheStatus: z.ZodType<CacheStatus> = typed<CacheStatus>()(z.object({
  usage_bytes: z.number().int(),
  configured_max_bytes: z.number().int().nullable(),
  effective_max_bytes: z.number().int(),
  reserve_bytes: z.number().int(),
  high_watermark: z.number(),
  low_watermark: z.number(),
  min_state_age: z.string(),
  store_total_bytes: z.number().int(),
  store_free_bytes: z.number().int(),
  state_count: z.number().int(),
  reclaimable_bytes: z.number().int(),
  blocked_count: z.number().int(),
  pressure_reasons: z.array(z.string()),
  last_eviction: EvictionReport.nullable(),
}));

/** One step of a `cache explain` answer. */
export interface CacheExplainStep {
  task_id: string;
  input: string;
  output_state_id: string;
  decision: "hit" | "miss";
  /**
   * For a miss: why, compared with the nearest cached state. `unchanged_not_kept`: the step is as it
   * was built before, but its state was not kept (states are kept by cost), so it runs again.
   */
  reason_code:
    | "exact_state_match"
    | "not_kept"
    | "unchanged_not_kept"
    | "parent_changed"
    | "input_changed"
    | "no_matching_state";
  reason: string;
  nearest_state_id: string | null;
  changed_files: string[];
}
/** One step of a `cache explain` answer. */
export const CacheExplainStep: z.ZodType<CacheExplainStep> = typed<CacheExplainStep>()(z.object({
  task_id: z.string(),
  input: z.string(),
  output_state_id: StateId,
  decision: z.enum(["hit", "miss"]),
  reason_code: z.enum([
    "exact_state_match",
    "not_kept",
    "unchanged_not_kept",
    "parent_changed",
    "input_changed",
    "no_matching_state",
  ]),
  reason: z.string(),
  nearest_state_id: StateId.nullable(),
  changed_files: z.array(z.string()),
}));

/** `POST /v1/cache/explain/prepare`: hit/miss per step without creating a job or an instance. */
export interface CacheExplain {
  decision: "hit" | "miss";
  image_id: string;
  resolved_image_id: string;
  final_state_id: string;
  steps: CacheExplainStep[];
}
/** `POST /v1/cache/explain/prepare`: hit/miss per step without creating a job or an instance. */
export const CacheExplain: z.ZodType<CacheExplain> = typed<CacheExplain>()(z.object({
  decision: z.enum(["hit", "miss"]),
  image_id: z.string(),
  resolved_image_id: z.string(),
  final_state_id: StateId,
  steps: z.array(CacheExplainStep),
}));
