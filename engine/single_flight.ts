/**
 * Work per key: {@link KeyedMutex} runs at most one piece at a time, later callers waiting for the
 * running one and then running their own (which usually finds the work already done);
 * {@link SharedRuns} gives later callers the running one's result.
 *
 * @module
 */

/** A per-key mutex. */
export class KeyedMutex {
  #tails = new Map<string, Promise<void>>();

  /**
   * Waits until every earlier holder of `key` has released it; resolves with the release function
   * (call it once). Holding several keys is deadlock-free as long as every holder takes them in one
   * global order (the executor takes a state's key only after its ancestors').
   */
  async acquire(key: string): Promise<() => void> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const tail = new Promise<void>((resolve) => (release = resolve));
    const chained = previous.then(() => tail);
    this.#tails.set(key, chained);
    await previous;
    return () => {
      release();
      if (this.#tails.get(key) === chained) this.#tails.delete(key);
    };
  }

  /** Runs `work` once every earlier holder of `key` has finished. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const release = await this.acquire(key);
    try {
      return await work();
    } finally {
      release();
    }
  }
}

/**
 * Shares one run of some work among the callers that ask for the same key while it runs; a caller
 * that comes after it ended runs it anew. Only for work whose result is as good for each of them.
 */
export class SharedRuns<T> {
  #running = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key);
    if (running !== undefined) return running;
    const started = work().finally(() => this.#running.delete(key));
    this.#running.set(key, started);
    return started;
  }
}
