/**
 * The warm pool: started instances of hot states, kept ready so that a prepare of such a state only
 * records one (no clone, no server start, no role) instead of making it.
 *
 * - **Hot.** A state is hot once it was prepared `pool.hotAfter` times within `pool.idleTimeout`, or
 *   from its first prepare when `pool.states` names it (or a request asks for a size). Its first
 *   prepare makes its instance as without a pool; the pool fills in the background after it.
 * - **Unseen until handed out.** A warm instance is started by {@link Instances.start} and has no
 *   registry row: `ls -i` does not list it, no TTL, delivery or `rm` reaches it, and it cannot be
 *   orphaned. {@link InstancePool.take} removes it from the pool synchronously (one event loop turn),
 *   so no two callers get the same one; the caller records it.
 * - **Limits.** `pool.size` per hot state, `pool.maxIdle` across states, `pool.maxIdleMemoryBytes`
 *   (PSS of the idle servers). An instance not taken within `pool.idleTimeout` is removed.
 * - **Restarts.** The engine drains the pool when it stops; after a crash, recovery stops the unrecorded
 *   servers as strays and removes their directories (see `recoverStore`), so none leaks.
 *
 * @module
 */

import type { ConfigStore } from "../config/config_store.ts";
import type { Instances, StartedInstance } from "../instances/instances.ts";
import type { ResolvedImage } from "../runtime/types.ts";
import { parseDuration } from "../../shared/duration.ts";
import { messageOf } from "../../shared/errors.ts";
import { serverMemoryBytes } from "./memory.ts";

/** What the pool needs from the engine. */
export interface PoolDeps {
  instances: Pick<Instances, "start" | "discard">;
  /** Whether a state is still cached and complete (an evicted or deleted state's warm instances go). */
  stateExists(stateId: string): boolean;
  config: Pick<ConfigStore, "effective">;
  log(line: string): void;
}

/** A prepare of a state: what the pool learns demand from and clones new warm instances from. */
export interface PoolRequest {
  stateId: string;
  stateDir: string;
  image: ResolvedImage;
  /** The size the request (its recipe) asks for, instead of the config's. */
  size?: number | undefined;
}

/** `GET /v1/pool`. */
export interface PoolStatus {
  /** Ready warm instances by state id. */
  idle: Record<string, number>;
  /** Warm instances being started. */
  starting: number;
  /** PSS of the ready warm instances' servers (host runtime). */
  memory_bytes: number;
}

/** Warm instances started at once. */
const REFILL_CONCURRENCY = 1;
/** How long after the last hand-out of a state its refill starts. */
const REFILL_DELAY_MS = 50;

interface Warm {
  started: StartedInstance;
  readyAt: number;
  memoryBytes: number;
}

interface Demand {
  request: PoolRequest;
  /** Prepares counted while the state was asked for at least once per idleTimeout. */
  count: number;
  lastAt: number;
}

/** Warm instances per hot state, refilled in the background. */
export class InstancePool {
  readonly #deps: PoolDeps;
  readonly #idle = new Map<string, Warm[]>();
  readonly #demand = new Map<string, Demand>();
  /** Starts under way per state. */
  readonly #filling = new Map<string, number>();
  readonly #work = new Set<Promise<void>>();
  /** States that may be below their target. */
  readonly #wanted = new Set<string>();
  /** The refill that starts when hand-outs pause. */
  #quiet: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(deps: PoolDeps) {
    this.#deps = deps;
  }

  /**
   * Takes a warm instance of the state (the caller records or discards it), or undefined when none is
   * warm, and counts the prepare towards the state's heat; refills in the background either way.
   */
  take(request: PoolRequest): StartedInstance | undefined {
    this.#noteDemand(request);
    const warm = this.#idle.get(request.stateId)?.shift();
    this.#refill(request.stateId);
    return warm?.started;
  }

  /**
   * Takes a warm instance as {@link InstancePool.take} does when one is ready; when none is, counts
   * nothing (the job that then makes the instance takes from the pool, and counts the prepare).
   */
  takeReady(request: PoolRequest): StartedInstance | undefined {
    return (this.#idle.get(request.stateId)?.length ?? 0) > 0 ? this.take(request) : undefined;
  }

  /**
   * Takes a warm instance without counting demand (a reset), or undefined when none is warm. The
   * caller calls {@link InstancePool.refill} when done, so that no refill competes with its restart.
   */
  takeWarm(stateId: string): StartedInstance | undefined {
    return this.#idle.get(stateId)?.shift()?.started;
  }

  /** Refills the state's warm instances up to its target (after {@link InstancePool.takeWarm}). */
  refill(stateId: string): void {
    this.#refill(stateId);
  }

  /** What the pool holds now (`GET /v1/pool`): ready warm instances per state, starts under way, memory. */
  status(): PoolStatus {
    const idle: Record<string, number> = {};
    for (const [stateId, list] of this.#idle) if (list.length > 0) idle[stateId] = list.length;
    let starting = 0;
    for (const filling of this.#filling.values()) starting += filling;
    return { idle, starting, memory_bytes: this.#totals().memoryBytes };
  }

  /** Removes warm instances idle longer than `pool.idleTimeout` or of states gone; cools quiet states. */
  async sweep(): Promise<void> {
    const now = Date.now();
    const timeout = parseDuration(this.#deps.config.effective.pool.idleTimeout);
    for (const [stateId, demand] of this.#demand) {
      if (now - demand.lastAt > timeout) this.#demand.delete(stateId);
    }
    const expired: Warm[] = [];
    for (const [stateId, list] of this.#idle) {
      const gone = !this.#deps.stateExists(stateId) || this.#target(stateId) === 0;
      const keep = list.filter((warm) => !gone && now - warm.readyAt <= timeout);
      expired.push(...list.filter((warm) => !keep.includes(warm)));
      this.#idle.set(stateId, keep);
    }
    await Promise.all(expired.map((warm) => this.#discard(warm.started, "idle")));
  }

  /** Stops filling and removes every warm instance (the engine stops). */
  async drain(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#quiet);
    await Promise.allSettled([...this.#work]);
    const all = [...this.#idle.values()].flat();
    this.#idle.clear();
    await Promise.all(all.map((warm) => this.#discard(warm.started, "engine stopping")));
  }

  #noteDemand(request: PoolRequest): void {
    const now = Date.now();
    const timeout = parseDuration(this.#deps.config.effective.pool.idleTimeout);
    const previous = this.#demand.get(request.stateId);
    const count = previous !== undefined && now - previous.lastAt <= timeout ? previous.count + 1 : 1;
    this.#demand.set(request.stateId, { request, count, lastAt: now });
  }

  /** How many warm instances the state should have now. */
  #target(stateId: string): number {
    const demand = this.#demand.get(stateId);
    if (demand === undefined) return 0;
    const pool = this.#deps.config.effective.pool;
    const configured = pool.states[stateId] ?? demand.request.size;
    if (configured !== undefined) return configured;
    return demand.count >= pool.hotAfter ? pool.size : 0;
  }

  #totals(): { count: number; memoryBytes: number } {
    let count = 0;
    let memoryBytes = 0;
    for (const list of this.#idle.values()) {
      count += list.length;
      for (const warm of list) memoryBytes += warm.memoryBytes;
    }
    for (const filling of this.#filling.values()) count += filling;
    return { count, memoryBytes };
  }

  /** Queues the state for refilling up to its target; {@link InstancePool.#pump} starts the instances. */
  #refill(stateId: string): void {
    if (this.#closed || !this.#demand.has(stateId)) return;
    this.#wanted.add(stateId);
    // Once hand-outs pause: a burst of them would otherwise share the machine with the refill.
    clearTimeout(this.#quiet);
    this.#quiet = setTimeout(() => this.#pump(), REFILL_DELAY_MS);
  }

  /**
   * Starts warm instances, {@link REFILL_CONCURRENCY} at a time, for the queued states below their
   * target while the global limits allow. One at a time: on a small machine, a burst of hand-outs that
   * set off as many clones and server starts would slow every hand-out of the burst several times over.
   */
  #pump(): void {
    const { maxIdle, maxIdleMemoryBytes } = this.#deps.config.effective.pool;
    while (!this.#closed && this.#work.size < REFILL_CONCURRENCY) {
      const totals = this.#totals();
      if (totals.count >= maxIdle) return;
      if (maxIdleMemoryBytes !== null && totals.memoryBytes >= maxIdleMemoryBytes) return;
      const stateId = [...this.#wanted].find((id) => this.#deficit(id) > 0);
      for (const id of this.#wanted) if (this.#deficit(id) <= 0) this.#wanted.delete(id);
      const demand = stateId === undefined ? undefined : this.#demand.get(stateId);
      if (stateId === undefined || demand === undefined) return;
      this.#filling.set(stateId, (this.#filling.get(stateId) ?? 0) + 1);
      const work = this.#fillOne(demand.request).finally(() => {
        this.#filling.set(stateId, (this.#filling.get(stateId) ?? 1) - 1);
        this.#work.delete(work);
        this.#pump();
      });
      this.#work.add(work);
    }
  }

  /** How many more warm instances the state wants. */
  #deficit(stateId: string): number {
    return this.#target(stateId) - (this.#idle.get(stateId)?.length ?? 0) - (this.#filling.get(stateId) ?? 0);
  }

  async #fillOne(request: PoolRequest): Promise<void> {
    let started: StartedInstance;
    try {
      started = await this.#deps.instances.start(request);
    } catch (error) {
      this.#deps.log(`pool: cannot start a warm instance of state ${request.stateId}: ${messageOf(error)}`);
      return;
    }
    if (this.#closed || this.#target(request.stateId) === 0) {
      await this.#discard(started, "not needed any more");
      return;
    }
    const memoryBytes = await serverMemoryBytes(started.server);
    const list = this.#idle.get(request.stateId) ?? [];
    list.push({ started, readyAt: Date.now(), memoryBytes });
    this.#idle.set(request.stateId, list);
  }

  async #discard(started: StartedInstance, why: string): Promise<void> {
    try {
      await this.#deps.instances.discard(started);
      this.#deps.log(
        `pool: removed warm instance ${started.instanceId} of state ${started.stateId} (${why})`,
      );
    } catch (error) {
      this.#deps.log(`pool: cannot remove warm instance ${started.instanceId}: ${messageOf(error)}`);
    }
  }
}
