/**
 * Recorded results of the current burst of calls, handed back in the order the log settled
 * them: calls made together (as in `Promise.race` or `Promise.all`) see their results arrive in
 * the order they first did, so the race is won by the same call on every replay.
 */
export class ReplayGate {
  readonly #waiting: { seq: number; settle: () => void }[] = [];

  /** True while recorded results wait to be handed back: the workflow is about to move on. */
  get holding(): boolean {
    return this.#waiting.length > 0;
  }

  /** A recorded result, released with the rest of its burst in the order the log settled them. */
  replayed<T>(settledSeq: number | undefined, result: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push({
        seq: settledSeq ?? 0,
        settle: () => {
          try {
            resolve(result());
          } catch (error) {
            reject(error);
          }
        },
      });
      // After every microtask: all calls of this burst are made and everyone awaiting them listens.
      if (this.#waiting.length === 1) setImmediate(() => this.#open());
    });
  }

  #open(): void {
    for (const waiting of this.#waiting.splice(0).sort((a, b) => a.seq - b.seq)) waiting.settle();
  }
}
