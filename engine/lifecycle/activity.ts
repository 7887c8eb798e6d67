/**
 * Tracks what keeps the engine busy, so that the idle timeout only fires when nothing is happening:
 * no request for the timeout, no open stream and no running job.
 *
 * @module
 */

/** The engine's activity counter. */
export class Activity {
  #lastActive = performance.now();
  #openStreams = 0;
  #busyJobs = 0;

  /** Records a request. */
  touch(): void {
    this.#lastActive = performance.now();
  }

  /** Marks a stream open; call the returned function once when it closes. */
  beginStream(): () => void {
    this.#openStreams++;
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.#openStreams--;
      this.touch();
    };
  }

  /** Marks a job running; call the returned function once when it stops. */
  beginJob(): () => void {
    this.#busyJobs++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#busyJobs--;
      this.touch();
    };
  }

  /** Whether a job runs or a stream is open. */
  busy(): boolean {
    return this.#openStreams > 0 || this.#busyJobs > 0;
  }

  /** Milliseconds since the engine last did anything; 0 while busy. */
  idleMs(): number {
    if (this.#openStreams > 0 || this.#busyJobs > 0) return 0;
    return performance.now() - this.#lastActive;
  }
}
