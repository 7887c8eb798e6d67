/**
 * Which states of a series are kept (snapshotted and published). Every step has its fingerprint, but a
 * snapshot costs a clean stop, a snapshot, a publish and a start (about 0.25 s), whatever the step did;
 * keeping one after each small migration made a long history 20–40× slower than running it by hand.
 *
 * - The last step and the one before it are always kept: editing the last migration, or adding one,
 *   re-runs one step.
 * - An intermediate state is kept once the work since the previous kept state (wall time of the tool
 *   runs) reaches {@link KEEP_FACTOR} times what keeping a state costs, as measured in this job. A
 *   miss then re-runs at most about that much work from the nearest kept ancestor, and intermediate
 *   snapshots add at most about 1/{@link KEEP_FACTOR} to a cold build.
 *
 * Consecutive steps between kept states run in as few tool processes as the policy allows: a run
 * covers as many steps as the measured time per step says fit before the next keep is due.
 *
 * @module
 */

/** An intermediate state is kept when the work since the last kept one is this many times a keep's cost. */
export const KEEP_FACTOR = 4;
/** What keeping a state costs (stop, snapshot, publish, start) until this job has measured it. */
export const INITIAL_KEEP_MS = 250;

/** The keep decisions of one job over a plan of `total` steps. */
export class KeepPolicy {
  readonly #total: number;
  #keepMs = INITIAL_KEEP_MS;
  #ranMs = 0;
  #ranSteps = 0;
  #sinceKeptMs = 0;

  constructor(total: number) {
    this.#total = total;
  }

  /** Whether the state after step `index` is always kept (the last two). */
  mustKeep(index: number): boolean {
    return index >= this.#total - 2;
  }

  /** How many steps, from `index`, the next tool run covers: ends at a step that may be kept. */
  nextRun(index: number): number {
    if (this.mustKeep(index) || this.#ranSteps === 0) return 1;
    const perStepMs = Math.max(this.#ranMs / this.#ranSteps, 0.1);
    const budgetMs = KEEP_FACTOR * this.#keepMs - this.#sinceKeptMs;
    return Math.min(Math.max(1, Math.ceil(budgetMs / perStepMs)), this.#total - 2 - index);
  }

  /** Records a run of `steps` steps ending at `lastIndex` that took `ms`; true when its state is kept. */
  ran(lastIndex: number, steps: number, ms: number): boolean {
    this.#ranMs += ms;
    this.#ranSteps += steps;
    this.#sinceKeptMs += ms;
    return this.mustKeep(lastIndex) || this.#sinceKeptMs >= KEEP_FACTOR * this.#keepMs;
  }

  /** Records that a state was kept, and what keeping it cost. */
  kept(ms: number): void {
    this.#keepMs = ms;
    this.#sinceKeptMs = 0;
  }
}
