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
 * covers as many steps as the measured time per step says fit before the next keep is due. The time to
 * start the tool is told apart from the work (it is fitted over runs of different sizes) and does not
 * count as work: re-running from any kept state pays it too.
 *
 * @module
 */

/** An intermediate state is kept when the work since the last kept one is this many times a keep's cost. */
export const KEEP_FACTOR = 4;
/** What keeping a state costs (stop, snapshot, publish, start) until this job has measured it. */
export const INITIAL_KEEP_MS = 250;

/** One tool run: how many steps it covered and how long it took. */
interface Run {
  steps: number;
  ms: number;
}

/**
 * The cost of starting the tool and of one step, fitted over the runs so far (least squares on
 * `ms = start + steps × perStep`); while every run had the same size, the start is taken as 0.
 */
function fitCosts(runs: readonly Run[]): { startMs: number; perStepMs: number } {
  const n = runs.length;
  const meanSteps = runs.reduce((sum, run) => sum + run.steps, 0) / n;
  const meanMs = runs.reduce((sum, run) => sum + run.ms, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const run of runs) {
    covariance += (run.steps - meanSteps) * (run.ms - meanMs);
    variance += (run.steps - meanSteps) ** 2;
  }
  if (variance === 0) return { startMs: 0, perStepMs: Math.max(meanMs / meanSteps, 0.1) };
  const perStepMs = Math.max(covariance / variance, 0.1);
  return { startMs: Math.max(meanMs - perStepMs * meanSteps, 0), perStepMs };
}

/** The keep decisions of one job over a plan of `total` steps. */
export class KeepPolicy {
  readonly #total: number;
  #keepMs = INITIAL_KEEP_MS;
  readonly #runs: Run[] = [];
  /** The runs since the last kept state. */
  #sinceKept: Run[] = [];

  constructor(total: number) {
    this.#total = total;
  }

  /** Whether the state after step `index` is always kept (the last two). */
  mustKeep(index: number): boolean {
    return index >= this.#total - 2;
  }

  /**
   * The work since the last kept state: what re-running it would cost beyond starting the tool, which
   * any run pays (a JVM start is most of a one-changeset Liquibase run).
   */
  #workSinceKept(startMs: number): number {
    return this.#sinceKept.reduce((sum, run) => sum + Math.max(run.ms - startMs, 0), 0);
  }

  /**
   * How many steps, from `index`, the next tool run covers: ends at a step that may be kept. Until runs
   * of two sizes were seen, a run covers at least two steps, so that the tool's start can be told apart
   * from its work.
   */
  nextRun(index: number): number {
    if (this.mustKeep(index) || this.#runs.length === 0) return 1;
    const { startMs, perStepMs } = fitCosts(this.#runs);
    const budgetMs = KEEP_FACTOR * this.#keepMs - this.#workSinceKept(startMs);
    const oneSize = this.#runs.every((run) => run.steps === this.#runs[0]?.steps);
    const steps = Math.max(oneSize ? 2 : 1, Math.ceil(budgetMs / perStepMs));
    return Math.max(1, Math.min(steps, this.#total - 2 - index));
  }

  /** Records a run of `steps` steps ending at `lastIndex` that took `ms`; true when its state is kept. */
  ran(lastIndex: number, steps: number, ms: number): boolean {
    this.#runs.push({ steps, ms });
    this.#sinceKept.push({ steps, ms });
    if (this.mustKeep(lastIndex)) return true;
    return this.#workSinceKept(fitCosts(this.#runs).startMs) >= KEEP_FACTOR * this.#keepMs;
  }

  /** Records that a state was kept, and what keeping it cost. */
  kept(ms: number): void {
    this.#keepMs = ms;
    this.#sinceKept = [];
  }
}
