/**
 * The benchmark harness: probes measure one whole operation per call, the scheduler runs every probe
 * round-robin (interleaved, the order rotated and reversed from round to round) after its warm-up, and
 * each figure is summarised as median, min, max and the number of runs.
 *
 * @module
 */

/** Who does the work a figure measures. */
export type Technique = "sqlrs" | "baseline";

/** What one figure measures and where. */
export interface FigureSpec {
  /** Unique id, e.g. `warm.api.chinook@btrfs`. */
  id: string;
  /** The key of this figure in a probe's sample. */
  metric: string;
  /** What is measured, in words. */
  what: string;
  /** The command or technique, as someone would type or code it. */
  command: string;
  technique: Technique;
  /** `cold`, `warm`, `clone`, `delete`, `template`, `chain`, `start`, `breakdown`. */
  group: string;
  workload: string;
  /** Snapshot backend or filesystem, e.g. `btrfs (loop)`, `overlay (ext4)`. */
  backend: string;
  runtime: string;
  /** `api`, `cli`, `by hand`, `psql session`, `engine log`. */
  via: string;
  /** When this figure is one phase of another figure, that figure's id. */
  phaseOf?: string;
  /** `MB` (10^6 bytes) for a memory figure; otherwise the figure is a time in milliseconds. */
  unit?: "MB";
}

/** One call of a probe: milliseconds (or the figure's `unit`) per metric. */
export type Sample = Record<string, number>;

/** A measurable operation that yields one or more figures per call. */
export interface Probe {
  name: string;
  warmup: number;
  runs: number;
  figures: FigureSpec[];
  /** Does the whole operation once, cleaning up after itself, and returns the timed metrics. */
  run(): Promise<Sample>;
}

/** A figure's summary. */
export interface FigureResult extends FigureSpec {
  median: number | null;
  min: number | null;
  max: number | null;
  runs: number;
  samples: number[];
  error?: string;
}

/** Median, min and max of `values` (null for none). */
export function summarise(
  values: readonly number[],
): { median: number | null; min: number | null; max: number | null } {
  if (values.length === 0) return { median: null, min: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1
    ? sorted[mid] as number
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

/** Milliseconds since `start` (from `performance.now()`). */
export function since(start: number): number {
  return performance.now() - start;
}

/** Options of {@link runInterleaved}. */
export interface ScheduleOptions {
  signal: AbortSignal;
  log(line: string): void;
}

/**
 * Runs every probe round-robin: round r runs each probe that still needs a warm-up or a measured run,
 * in an order rotated by ⌊r/2⌋ and reversed on odd rounds. The rotation makes slow drift of the machine
 * hit every figure alike; the reversal makes each of two probes go first in half the rounds, so that
 * of two probes reading the same data neither always finds it in the page cache the other just filled
 * (seen before the reversal: a 2.5 GB state copied in 5.5 s by the first reader, 1.5 s by the second).
 * A probe that fails is reported with its error and not run again; the others go on.
 */
export async function runInterleaved(
  probes: readonly Probe[],
  options: ScheduleOptions,
): Promise<FigureResult[]> {
  const samples = new Map<string, number[]>(probes.flatMap((p) => p.figures.map((f) => [f.id, []])));
  const errors = new Map<string, string>();
  const rounds = Math.max(0, ...probes.map((p) => p.warmup + p.runs));
  // Wall time per probe, untimed set-up and clean-up included: what the run's length is made of.
  const wall = new Map<string, number>();
  for (let round = 0; round < rounds; round++) {
    const active = probes.filter((p) => p.warmup + p.runs > round && !errors.has(p.name));
    const shift = active.length === 0 ? 0 : Math.floor(round / 2) % active.length;
    const rotated = [...active.slice(shift), ...active.slice(0, shift)];
    const ordered = round % 2 === 1 ? rotated.reverse() : rotated;
    const started = performance.now();
    for (const probe of ordered) {
      options.signal.throwIfAborted();
      let sample: Sample;
      const t = performance.now();
      try {
        sample = await probe.run();
        wall.set(probe.name, (wall.get(probe.name) ?? 0) + performance.now() - t);
      } catch (error) {
        if (options.signal.aborted) throw error;
        const message = error instanceof Error ? error.message : String(error);
        errors.set(probe.name, message);
        options.log(`  ${probe.name} failed: ${message.split("\n").slice(0, 6).join("\n    ")}`);
        continue;
      }
      if (round < probe.warmup) continue;
      for (const figure of probe.figures) {
        const value = sample[figure.metric];
        if (value !== undefined && Number.isFinite(value)) samples.get(figure.id)?.push(value);
      }
    }
    options.log(
      `round ${round + 1}/${rounds}: ${ordered.length} probes in ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s`,
    );
  }
  const heaviest = [...wall].sort((a, b) => b[1] - a[1]).slice(0, 8);
  options.log(
    `wall time by probe: ${heaviest.map(([n, ms]) => `${n} ${(ms / 1000).toFixed(1)} s`).join(", ")}`,
  );
  return probes.flatMap((probe) =>
    probe.figures.map((figure) => {
      const values = samples.get(figure.id) ?? [];
      const result: FigureResult = { ...figure, ...summarise(values), runs: values.length, samples: values };
      const error = errors.get(probe.name);
      if (error !== undefined) result.error = error;
      return result;
    })
  );
}
