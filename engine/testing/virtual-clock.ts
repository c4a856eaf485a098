import type { Timers } from '@ratchet/protocol';

interface VirtualTimer {
  readonly at: number;
  /** Order of creation: timers due at the same instant fire in the order they were set. */
  readonly order: number;
  readonly callback: () => void;
}

/**
 * A clock that moves only when told, with timers on it: `now()` is the clock for engine, worker
 * and workflow code, and the object itself is the {@link Timers} they wait with. A timer set for
 * 0 ms (or less) fires at the next turn of the event loop, as a real one would; a later one fires
 * only when the clock is moved to its instant (`fireNext`, `moveTo`).
 */
export class VirtualClock implements Timers {
  #now: number;
  #order = 0;
  readonly #timers = new Set<VirtualTimer>();
  readonly #onSet: () => void;
  #flushQueued = false;

  /** `onSet` is told whenever a timer is set (whoever drives the clock may want to look again). */
  constructor(options: { readonly start: number; readonly onSet?: () => void }) {
    this.#now = options.start;
    this.#onSet = options.onSet ?? (() => {});
  }

  /** The virtual time, ms since the epoch. */
  readonly now = (): number => this.#now;

  setTimeout(callback: () => void, ms: number): unknown {
    const delay = Number.isNaN(ms) ? 0 : Math.max(0, ms);
    const timer: VirtualTimer = { at: this.#now + delay, order: this.#order++, callback };
    this.#timers.add(timer);
    if (delay === 0) this.#queueFlush();
    this.#onSet();
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as VirtualTimer);
  }

  /** When the earliest pending timer is due; undefined when none is (a timer set for ever does not count). */
  nextAt(): number | undefined {
    const next = this.#earliest();
    return next === undefined || next.at === Number.POSITIVE_INFINITY ? undefined : next.at;
  }

  /** Moves the clock to the earliest pending timer (never backwards) and fires every timer due then. */
  fireNext(): void {
    const at = this.nextAt();
    if (at === undefined) return;
    this.#now = Math.max(this.#now, at);
    this.#fireDue();
  }

  /**
   * Moves the clock forward to `at` (never backwards) and fires what is due then. Timers due on
   * the way fire at `at`, late: to fire each at its own instant, move with `fireNext` first.
   */
  moveTo(at: number): void {
    if (at > this.#now) this.#now = at;
    this.#fireDue();
  }

  #earliest(): VirtualTimer | undefined {
    let earliest: VirtualTimer | undefined;
    for (const timer of this.#timers) {
      if (!earliest || timer.at < earliest.at || (timer.at === earliest.at && timer.order < earliest.order)) earliest = timer;
    }
    return earliest;
  }

  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setImmediate(() => {
      this.#flushQueued = false;
      this.#fireDue();
    });
  }

  /** Fires the timers due by now, earliest first (a callback may set more; those due now fire too). */
  #fireDue(): void {
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.at > this.#now) return;
      this.#timers.delete(next);
      try {
        next.callback();
      } catch (error) {
        // As with a real timer, the error is uncaught, and the other timers still fire.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
