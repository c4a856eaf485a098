import {
  admit,
  applyBreakerEvent,
  type BreakerEvent,
  type BreakerState,
  type BreakerSummary,
  closedBreaker,
  type ResolvedBreakerPolicy,
  recordOutcome,
} from '@ratchet/protocol';
import type { EventStore } from '@ratchet/store';
import { KeyedMutex } from './keyed-mutex.ts';

/**
 * The engine's breakers: state machines of protocol's pure `admit`/`recordOutcome`, whose
 * transitions are appended to each breaker's own stream before anyone acts on them, so a
 * restarted engine or another replica reads the same state. Counts between transitions live
 * in memory (a restart starts them afresh, on the recorded state).
 */
export class BreakerBoard {
  readonly #store: EventStore;
  readonly #clock: () => number;
  readonly #breakers = new Map<string, { policy?: ResolvedBreakerPolicy; state: BreakerState }>();
  readonly #locks = new KeyedMutex();

  constructor(options: { store: EventStore; clock: () => number }) {
    this.#store = options.store;
    this.#clock = options.clock;
  }

  /** Reads every breaker's stream (at start, and to see other replicas' transitions). */
  async load(): Promise<void> {
    const events = await this.#store.readBreakerEvents();
    const states = new Map<string, BreakerState>();
    for (const { name, event } of events) states.set(name, applyBreakerEvent(states.get(name) ?? closedBreaker(name), event));
    for (const [name, state] of states) {
      const known = this.#breakers.get(name);
      if (!known || known.state.status !== state.status || known.state.openUntil !== state.openUntil) {
        this.#breakers.set(name, { ...(known?.policy ? { policy: known.policy } : {}), state });
      }
    }
  }

  acquire(name: string, policy: ResolvedBreakerPolicy): Promise<{ admitted: boolean; probe: boolean; retryAt?: number }> {
    return this.#locks.run(name, async () => {
      const breaker = this.#get(name);
      breaker.policy = policy;
      const admission = admit(breaker.state, policy, this.#clock());
      await this.#record(name, admission.transitions);
      breaker.state = admission.state;
      return {
        admitted: admission.admitted,
        probe: admission.probe,
        ...(admission.retryAt === undefined ? {} : { retryAt: admission.retryAt }),
      };
    });
  }

  /** An admitted call ended: `ok` undefined when it ended without an outcome (its worker was lost). */
  report(name: string, outcome: { ok: boolean | undefined; probe: boolean }): Promise<void> {
    return this.#locks.run(name, async () => {
      const breaker = this.#breakers.get(name);
      if (!breaker?.policy) return;
      const next = recordOutcome(breaker.state, breaker.policy, outcome, this.#clock());
      await this.#record(name, next.transitions);
      breaker.state = next.state;
    });
  }

  /** Opens `name` for `forMs` (an operator's trip), or closes it (a reset). */
  control(name: string, op: 'trip' | 'reset', forMs: number): Promise<void> {
    return this.#locks.run(name, async () => {
      const breaker = this.#get(name);
      const event: BreakerEvent =
        op === 'trip'
          ? { type: 'BreakerOpened', until: this.#clock() + forMs, reason: 'tripped by an operator' }
          : { type: 'BreakerClosed', reason: 'reset by an operator' };
      await this.#record(name, [event]);
      breaker.state = applyBreakerEvent(breaker.state, event);
    });
  }

  list(): BreakerSummary[] {
    return [...this.#breakers.values()]
      .map(({ state }) => ({
        name: state.name,
        status: state.status,
        ...(state.openUntil === undefined ? {} : { openUntil: state.openUntil }),
        consecutiveFailures: state.consecutiveFailures,
        probesInFlight: state.probesInFlight,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  #get(name: string): { policy?: ResolvedBreakerPolicy; state: BreakerState } {
    let breaker = this.#breakers.get(name);
    if (!breaker) {
      breaker = { state: closedBreaker(name) };
      this.#breakers.set(name, breaker);
    }
    return breaker;
  }

  async #record(name: string, transitions: readonly BreakerEvent[]): Promise<void> {
    if (transitions.length > 0) await this.#store.appendBreakerEvents(name, transitions, this.#clock());
  }
}
