/**
 * The bounded state cache. Usage is the sum of the states' own bytes (what each holds that its parent
 * does not: see `StateFS.ownBytes`); the limit is `min(maxBytes, store size − reserveBytes)`. Above
 * `highWatermark × limit`, or with less free space than the reserve, states are evicted, least recently
 * used first, until usage is below `lowWatermark × limit` and the reserve is free again.
 *
 * Evictable: a state no instance uses and no running job still needs (leased, see `states/leases.ts`). That includes states
 * in the middle of a chain: on every backend a state is independent of its parent once made (btrfs
 * snapshots; overlay and copy states hard-link their parent's files, which outlive the parent), so
 * evicting one only means a later prepare rebuilds it from the nearest ancestor still there. Its
 * children then hold what they shared with it on their own, so they are measured again. Only leaves
 * (what prepares asked for) are kept for `minStateAge`; a state a backend refuses to remove now (an
 * overlay clone of a job is mounted on it) is skipped.
 *
 * A new state is admitted only if it fits: larger than the whole limit is `cache_limit_too_small`;
 * no room even after evicting everything evictable is `cache_full_unreclaimable`.
 *
 * @module
 */

import type { Registry, StateRow } from "../registry/registry.ts";
import type { States } from "../states/states.ts";
import type { ConfigStore } from "../config/config_store.ts";
import { parseDuration } from "../../shared/duration.ts";
import { SqlrsError } from "../../shared/errors.ts";
import type { CacheStatus, EvictionReport } from "../../shared/schemas.ts";

const GIB = 1024 ** 3;
const LAST_EVICTION = "cache.lastEviction";

/** Dependencies of the cache. */
export interface CapacityDeps {
  registry: Registry;
  states: States;
  config: ConfigStore;
  log(line: string): void;
}

interface Limits {
  usage: number;
  effectiveMax: number;
  configuredMax: number | null;
  reserve: number;
  total: number;
  free: number;
}

/** Measures and enforces the cache's capacity. */
export class CacheCapacity {
  readonly #deps: CapacityDeps;

  constructor(deps: CapacityDeps) {
    this.#deps = deps;
  }

  async #limits(): Promise<Limits> {
    const capacity = this.#deps.config.effective.cache.capacity;
    const { usedBytes: usage, totalBytes: total, freeBytes: free } = await this.#deps.states.usage();
    const reserve = capacity.reserveBytes ?? Math.min(Math.floor(total * 0.1), 10 * GIB);
    const storeBound = Math.max(0, total - reserve);
    const effectiveMax = capacity.maxBytes === null ? storeBound : Math.min(capacity.maxBytes, storeBound);
    return { usage, effectiveMax, configuredMax: capacity.maxBytes, reserve, total, free };
  }

  /**
   * States no instance uses and no running job needs, least recently used first; leaves only once older
   * than `minStateAge`. `refused` are states the backend would not remove in this pass.
   */
  #evictable(refused: ReadonlySet<string> = new Set()): StateRow[] {
    const { registry, config } = this.#deps;
    const minAge = parseDuration(config.effective.cache.capacity.minStateAge);
    const pinned = this.#deps.states.leases.held();
    const states = registry.listStates();
    const parents = new Set(states.map((state) => state.parent_state_id));
    const now = Date.now();
    return states
      .filter((state) =>
        !pinned.has(state.state_id) && !refused.has(state.state_id) &&
        registry.instancesOfState(state.state_id).length === 0 &&
        (parents.has(state.state_id) || now - Date.parse(state.created_at) >= minAge)
      )
      .sort((a, b) =>
        Date.parse(a.last_used_at ?? a.created_at) - Date.parse(b.last_used_at ?? b.created_at)
      );
  }

  /**
   * Evicts until usage is under the low watermark (or `extraBytes` more fit under the limit) and the
   * reserve is free. Returns what it did; evicts nothing when under the high watermark.
   */
  async enforce(trigger: string, extraBytes = 0): Promise<EvictionReport | null> {
    const { highWatermark, lowWatermark } = this.#deps.config.effective.cache.capacity;
    const before = await this.#limits();
    const over = (limits: Limits, threshold: number) =>
      limits.usage + extraBytes > threshold * limits.effectiveMax || limits.free < limits.reserve;
    if (!over(before, extraBytes > 0 ? 1 : highWatermark)) return null;
    let evicted = 0;
    let current = before;
    const refused = new Set<string>();
    for (
      let candidates = this.#evictable(refused);
      candidates.length > 0 && over(current, lowWatermark);
      candidates = this.#evictable(refused)
    ) {
      const victim = candidates[0] as StateRow;
      if (!(await this.#deps.states.tryRemove(victim))) {
        refused.add(victim.state_id);
        continue;
      }
      evicted++;
      this.#deps.log(
        `cache: evicted state ${victim.state_id} (${victim.size_bytes ?? 0} bytes, trigger ${trigger})`,
      );
      current = await this.#limits();
    }
    // Evicting a state in a chain frees less than its own bytes: its children keep what they shared.
    const freed = Math.max(0, before.usage - current.usage);
    const report: EvictionReport = {
      completed_at: new Date().toISOString(),
      trigger,
      evicted_count: evicted,
      freed_bytes: freed,
      blocked_count: this.#blockedCount(),
      usage_bytes_before: before.usage,
      usage_bytes_after: current.usage,
      free_bytes_before: before.free,
      free_bytes_after: current.free,
    };
    if (evicted > 0) this.#deps.registry.setMeta(LAST_EVICTION, JSON.stringify(report));
    return report;
  }

  #blockedCount(): number {
    return this.#deps.registry.listStates().length - this.#evictable().length;
  }

  /**
   * Makes room for a new state of `bytes`, evicting as needed.
   * @throws {SqlrsError} `cache_limit_too_small` or `cache_full_unreclaimable`
   */
  async admit(bytes: number): Promise<void> {
    const limits = await this.#limits();
    if (bytes > limits.effectiveMax) {
      throw new SqlrsError(
        "cache_limit_too_small",
        `The state cache limit (${limits.effectiveMax} bytes) is smaller than this one state (${bytes} bytes); ` +
          `raise cache.capacity.maxBytes or free disk space`,
        { details: { state_bytes: bytes, effective_max_bytes: limits.effectiveMax } },
      );
    }
    await this.enforce("pre_publish", bytes);
    const after = await this.#limits();
    if (after.usage + bytes > after.effectiveMax) {
      throw new SqlrsError(
        "cache_full_unreclaimable",
        `The state cache is full (${after.usage} of ${after.effectiveMax} bytes) and nothing more can be evicted: ` +
          `the remaining states are in use by instances or running jobs, or are younger than cache.capacity.minStateAge; ` +
          `delete instances ("sqlrs rm") or raise cache.capacity.maxBytes`,
        {
          details: { usage_bytes: after.usage, effective_max_bytes: after.effectiveMax, state_bytes: bytes },
        },
      );
    }
  }

  /** Diagnostics for `sqlrs status --cache`. */
  async status(): Promise<CacheStatus> {
    const limits = await this.#limits();
    const capacity = this.#deps.config.effective.cache.capacity;
    const evictable = this.#evictable();
    const pressure: string[] = [];
    if (limits.usage > capacity.highWatermark * limits.effectiveMax) {
      pressure.push("usage_above_high_watermark");
    }
    if (limits.free < limits.reserve) pressure.push("free_space_below_reserve");
    const last = this.#deps.registry.getMeta(LAST_EVICTION);
    return {
      usage_bytes: limits.usage,
      configured_max_bytes: limits.configuredMax,
      effective_max_bytes: limits.effectiveMax,
      reserve_bytes: limits.reserve,
      high_watermark: capacity.highWatermark,
      low_watermark: capacity.lowWatermark,
      min_state_age: capacity.minStateAge,
      store_total_bytes: limits.total,
      store_free_bytes: limits.free,
      state_count: this.#deps.registry.listStates().length,
      reclaimable_bytes: evictable.reduce((sum, state) => sum + (state.size_bytes ?? 0), 0),
      blocked_count: this.#deps.registry.listStates().length - evictable.length,
      pressure_reasons: pressure,
      last_eviction: last === undefined ? null : JSON.parse(last),
    };
  }
}
