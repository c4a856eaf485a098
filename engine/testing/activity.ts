/** Turns of the event loop with nothing happening before the environment counts as idle. */
const CALM_TURNS = 5;

/**
 * The work in progress in a test environment, so that it knows when nothing is runnable: engine
 * requests in flight, store calls, task hand-overs and step functions running. Work that hops
 * between these through the event loop (an append batched to the next turn, a group commit) is
 * caught by waiting for several quiet turns in a row.
 */
export class Activity {
  #busy = 0;
  #steps = 0;
  #generation = 0;
  #waiters: (() => void)[] = [];
  #closed = false;

  /** Counts one piece of work as in progress; call the returned function (once) when it ends. */
  begin(): () => void {
    this.#busy += 1;
    this.#changed();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#busy -= 1;
      this.#changed();
    };
  }

  /** Counts `work()` as in progress until its promise settles. */
  track<T>(work: () => Promise<T>): Promise<T> {
    const end = this.begin();
    try {
      return work().finally(end);
    } catch (error) {
      end();
      return Promise.reject(error);
    }
  }

  /** Counts a step function as running; call the returned function (once) when it returns or throws. */
  stepBegun(): () => void {
    this.#steps += 1;
    this.#changed();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#steps -= 1;
      this.#changed();
    };
  }

  /** Wakes whoever waits for a change (a timer was set, time was moved, the environment closes). */
  poke(): void {
    this.#changed();
  }

  /** Resolves at the next change (at once after `close()`). */
  changed(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Ends every wait: `changed()` and `settled()` resolve at once from now on. */
  close(): void {
    this.#closed = true;
    this.#changed();
  }

  /**
   * Resolves once nothing is in flight and nothing has happened for a few turns of the event
   * loop. Running step functions count as in flight unless `steps` is false (moving time by hand
   * must not wait for a step that hangs until its timeout).
   */
  async settled(options: { readonly steps: boolean }): Promise<void> {
    let calm = 0;
    let seen = this.#generation;
    while (calm < CALM_TURNS && !this.#closed) {
      if (this.#busy > 0 || (options.steps && this.#steps > 0)) {
        await this.changed();
        calm = 0;
        seen = this.#generation;
        continue;
      }
      await new Promise((resolve) => setImmediate(resolve));
      if (this.#generation === seen) calm += 1;
      else {
        calm = 0;
        seen = this.#generation;
      }
    }
  }

  #changed(): void {
    this.#generation += 1;
    if (this.#waiters.length === 0) return;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}
