/**
 * Leases on states: what running jobs still need (their steps' inputs and outputs, their final state)
 * and so must be neither evicted by the cache nor deleted by a user.
 *
 * @module
 */

/** The states each holder (a running job) has leased; a holder's lease is replaced as it progresses. */
export class StateLeases {
  readonly #held = new Map<string, ReadonlySet<string>>();

  /** Leases `stateIds` for `holder`, replacing what it held before. */
  hold(holder: string, stateIds: Iterable<string>): void {
    this.#held.set(holder, new Set(stateIds));
  }

  /** Ends every lease of `holder`. */
  release(holder: string): void {
    this.#held.delete(holder);
  }

  /** Every state some holder leases now. */
  held(): Set<string> {
    const all = new Set<string>();
    for (const ids of this.#held.values()) for (const id of ids) all.add(id);
    return all;
  }
}
