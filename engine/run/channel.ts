/**
 * A bounded async channel: `send` waits while the buffer is full, so producers run at the pace of
 * the consumer.
 *
 * @module
 */

/** A bounded queue read with `for await`. */
export class Channel<T> implements AsyncIterable<T> {
  readonly #capacity: number;
  readonly #buffer: T[] = [];
  #closed = false;
  #readerWake: (() => void) | undefined;
  #writerWakes: Array<() => void> = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Queues a value, waiting while the buffer is full. */
  async send(value: T): Promise<void> {
    while (this.#buffer.length >= this.#capacity && !this.#closed) {
      await new Promise<void>((resolve) => this.#writerWakes.push(resolve));
    }
    if (this.#closed) return;
    this.#buffer.push(value);
    this.#readerWake?.();
  }

  /** Ends the channel once the buffered values are read. */
  close(): void {
    this.#closed = true;
    this.#readerWake?.();
    for (const wake of this.#writerWakes.splice(0)) wake();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      while (true) {
        const value = this.#buffer.shift();
        if (value !== undefined) {
          this.#writerWakes.shift()?.();
          yield value;
          continue;
        }
        if (this.#closed) return;
        await new Promise<void>((resolve) => (this.#readerWake = resolve));
        this.#readerWake = undefined;
      }
    } finally {
      this.close();
    }
  }
}
