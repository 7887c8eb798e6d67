/**
 * Calls made together, sent together: a {@link Coalescer} gathers the calls that arrive within a few
 * microtask turns of each other (a `Promise.all` of a session's prepares, test cases starting at once)
 * and sends them in one request; a call made alone goes alone, without waiting for a timer.
 *
 * @module
 */

/**
 * How many microtask turns the first call waits for others: calls started in one synchronous loop
 * reach the coalescer within a few turns of each other (their paths have the same awaits).
 */
const GATHER_TURNS = 8;

interface Waiting<I, O> {
  item: I;
  resolve(output: O): void;
  reject(reason: unknown): void;
}

/** Sends items alone, or those that come together in batches of at most `maxBatch`. */
export class Coalescer<I, O> {
  readonly #alone: (item: I) => Promise<O>;
  readonly #together: (items: I[]) => Promise<PromiseSettledResult<O>[]>;
  readonly #maxBatch: number;
  #waiting: Waiting<I, O>[] = [];

  /** `together` answers each item in order: an outcome per item, or throws for all of them. */
  constructor(
    alone: (item: I) => Promise<O>,
    together: (items: I[]) => Promise<PromiseSettledResult<O>[]>,
    maxBatch: number,
  ) {
    this.#alone = alone;
    this.#together = together;
    this.#maxBatch = maxBatch;
  }

  submit(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      if (this.#waiting.length === 1) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    for (let turn = 0; turn < GATHER_TURNS; turn++) await Promise.resolve();
    const waiting = this.#waiting;
    this.#waiting = [];
    for (let start = 0; start < waiting.length; start += this.#maxBatch) {
      void this.#send(waiting.slice(start, start + this.#maxBatch));
    }
  }

  async #send(calls: Waiting<I, O>[]): Promise<void> {
    if (calls.length === 1) {
      const [call] = calls as [Waiting<I, O>];
      await this.#alone(call.item).then(call.resolve, call.reject);
      return;
    }
    try {
      const outcomes = await this.#together(calls.map((call) => call.item));
      calls.forEach((call, index) => {
        const outcome = outcomes[index];
        if (outcome?.status === "fulfilled") call.resolve(outcome.value);
        else call.reject(outcome?.reason ?? new Error("The batch answered fewer items than it was sent"));
      });
    } catch (error) {
      for (const call of calls) call.reject(error);
    }
  }
}
