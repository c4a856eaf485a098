/** Raised by a store operation begun after `close()`, or still running when the close gave up on it. */
export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
}

/**
 * Keeps count of a store's operations so that `close()` can let them finish before the client
 * goes. Ending a postgres.js 3.4 client while kysely holds a connection reserved for a query
 * loses queued queries (their promises never settle) and never finishes ending; ending it once
 * nothing runs is prompt and loses nothing. Operations begun after the close has started are
 * refused, and those still running when its grace is over fail instead of hanging.
 */
export class OperationGate {
  readonly #running = new Set<Promise<unknown>>();
  #closing = false;
  #abandon!: (error: StoreClosedError) => void;
  readonly #abandoned = new Promise<never>((_, reject) => {
    this.#abandon = reject;
  });

  constructor() {
    this.#abandoned.catch(() => {});
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new StoreClosedError('the event store is closed'));
    const running = Promise.race([work(), this.#abandoned]);
    this.#running.add(running);
    const done = () => this.#running.delete(running);
    running.then(done, done);
    return running;
  }

  /**
   * Refuses new operations, waits up to `graceMs` for the running ones, then fails those still
   * running and calls `release`.
   */
  async close(graceMs: number, release: () => Promise<void>): Promise<void> {
    this.#closing = true;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.allSettled([...this.#running]), grace]);
    clearTimeout(timer);
    if (this.#running.size > 0) {
      this.#abandon(new StoreClosedError(`the event store was closed while this operation ran (gave it ${graceMs} ms)`));
    }
    await release();
  }
}
