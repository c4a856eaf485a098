import type { Timers } from '@ratchet/protocol';
import type { DueTimer, EventStore } from '@ratchet/store';
import type { Logger } from 'pino';

export interface TimerLoopOptions {
  readonly store: EventStore;
  readonly clock: () => number;
  /** Wake-ups on the same time as `clock`. */
  readonly timers: Timers;
  readonly logger: Logger;
  /** Records the firing of one claimed timer (appends `TimerFired`, dispatches the job). */
  readonly fire: (timer: DueTimer) => Promise<void>;
  /** Timers other engines wrote are found by looking this often. */
  readonly pollMs: number;
  /** A claimed timer returns to the pool after this long if its engine died before firing it. */
  readonly leaseMs: number;
}

/**
 * Fires durable timers at their recorded instant. The engine wakes it exactly when a timer it
 * wrote comes due; a slow poll finds timers written by other engines and leases that lapsed.
 */
export class TimerLoop {
  readonly #o: TimerLoopOptions;
  #timer: unknown;
  #nextAt = Number.POSITIVE_INFINITY;
  #ticking: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(options: TimerLoopOptions) {
    this.#o = options;
  }

  start(): void {
    this.#stopped = false;
    this.#nextAt = Number.POSITIVE_INFINITY;
    this.wake(this.#o.clock());
  }

  /** Makes sure the loop runs at `at` (or sooner). */
  wake(at: number): void {
    if (this.#stopped) return;
    if (this.#ticking) {
      if (at <= this.#o.clock()) this.#again = true;
      else this.#schedule(at);
      return;
    }
    this.#schedule(at);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#o.timers.clearTimeout(this.#timer);
    this.#nextAt = Number.POSITIVE_INFINITY;
    await this.#ticking;
  }

  #schedule(at: number): void {
    if (at >= this.#nextAt) return;
    const { timers } = this.#o;
    timers.clearTimeout(this.#timer);
    this.#nextAt = at;
    // A Node timer cannot wait past 2^31-1 ms; a later timer is found by the poll anyway.
    this.#timer = timers.setTimeout(() => this.#tick(), Math.min(Math.max(0, at - this.#o.clock()), this.#o.pollMs));
  }

  #tick(): void {
    this.#nextAt = Number.POSITIVE_INFINITY;
    this.#ticking = this.#run().finally(() => {
      this.#ticking = undefined;
    });
  }

  async #run(): Promise<void> {
    const { store, clock, logger, fire, pollMs, leaseMs } = this.#o;
    try {
      do {
        this.#again = false;
        const due = await store.claimDueTimers(clock(), 256, leaseMs);
        await Promise.all(
          due.map((timer) => fire(timer).catch((error: unknown) => logger.error({ err: error, ...timer }, 'could not fire timer'))),
        );
        if (due.length === 256) this.#again = true;
      } while (this.#again && !this.#stopped);
      const next = await store.nextTimerAt();
      // A wake for a timer already due may have come in while we asked.
      if (!this.#stopped) this.#schedule(this.#again ? clock() : Math.min(next ?? Number.POSITIVE_INFINITY, clock() + pollMs));
    } catch (error) {
      logger.error({ err: error }, 'timer loop failed; retrying');
      if (!this.#stopped) this.#schedule(clock() + pollMs);
    }
  }
}
