/**
 * Which states of a series are kept (snapshotted and published). Every step has its fingerprint, but a
 * snapshot costs a clean stop, a snapshot, a publish and a start (about 0.25 s), whatever the step did;
 * keeping one after each small migration made a long history 20–40× slower than running it by hand.
 *
 * - The last step and the one before it are always kept: editing the last migration, or adding one,
 *   re-runs one step. The run that reaches the one before the last ends there; the last runs alone.
 * - An intermediate state is kept once the work since the previous kept state (wall time of the tool
 *   runs) reaches {@link KEEP_FACTOR} times what keeping a state costs, as measured in this job. A
 *   miss then re-runs at most about that much work from the nearest kept ancestor, and intermediate
 *   snapshots add at most about 1/{@link KEEP_FACTOR} to a cold build.
 *
 * Consecutive steps between kept states run in as few tool processes as the policy allows: a run
 * covers as many steps as the measured time per step says fit before the next keep is due. The time to
 * start the tool is told apart from the work (it is fitted over runs of different sizes) and does not
 * count as work: re-running from any kept state pays it too. It counts in the cost of a keep, though:
 * the tool must end for the server to stop, and the next run starts it again. For psql that is tens of
 * ms; for Liquibase a JVM (2-5 s), so that a Liquibase history keeps intermediate states only where its
 * changesets' own work is worth several JVM starts.
 *
 * When the tool's start was measured before the first step (Liquibase's planning run is a JVM that
 * applies nothing), the first run needs no learning: it covers every step up to the one before the
 * last, since a step's work is not known before it ran and no keep is worth a tool start until then.
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

  /** A run of 0 steps: the measured start of the tool, when known before the first step. */
  readonly #startSample: Run[];

  /**
   * @param total the number of steps of the plan
   * @param toolStartMs how long one run of the tool that applies no step took, when measured already
   */
  constructor(total: number, toolStartMs?: number) {
    this.#total = total;
    this.#startSample = toolStartMs === undefined ? [] : [{ steps: 0, ms: toolStartMs }];
  }

  #fit(): { startMs: number; perStepMs: number } {
    return fitCosts([...this.#startSample, ...this.#runs]);
  }

  /** A keep's cost: stopping, snapshotting, publishing, starting the server, and starting the tool again. */
  #keepCost(startMs: number): number {
    return KEEP_FACTOR * (this.#keepMs + startMs);
  }

  /** The most steps a run from `index` may cover: it ends at the one before the last at the latest. */
  #cap(index: number): number {
    return Math.max(1, this.#total - 1 - index);
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
    if (this.mustKeep(index)) return 1;
    if (this.#runs.length === 0) return this.#startSample.length === 0 ? 1 : this.#cap(index);
    const { startMs, perStepMs } = this.#fit();
    const budgetMs = this.#keepCost(startMs) - this.#workSinceKept(startMs);
    const runs = [...this.#startSample, ...this.#runs];
    const oneSize = runs.every((run) => run.steps === runs[0]?.steps);
    const steps = Math.max(oneSize ? 2 : 1, Math.ceil(budgetMs / perStepMs));
    return Math.min(steps, this.#cap(index));
  }

  /** Records a run of `steps` steps ending at `lastIndex` that took `ms`; true when its state is kept. */
  ran(lastIndex: number, steps: number, ms: number): boolean {
    this.#runs.push({ steps, ms });
    this.#sinceKept.push({ steps, ms });
    if (this.mustKeep(lastIndex)) return true;
    const { startMs } = this.#fit();
    return this.#workSinceKept(startMs) >= this.#keepCost(startMs);
  }

  /** Records that a state was kept, and what keeping it cost. */
  kept(ms: number): void {
    this.#keepMs = ms;
    this.#sinceKept = [];
  }
}
