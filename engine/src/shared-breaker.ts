import { type BreakerEvent, type BreakerState, encode, type ResolvedBreakerPolicy } from '@ratchet/protocol';
import type { BreakerRow, BreakerWrite, EventStore } from '@ratchet/store';

/** What a change decides from a breaker's row: its state after, the policy to keep, the transitions, and the answer. */
export interface BreakerChange<T> {
  readonly state: BreakerState;
  /** The policy to keep in the row from now on; the row's stays when undefined. */
  readonly policy?: ResolvedBreakerPolicy;
  readonly transitions: readonly BreakerEvent[];
  readonly result: T;
}

/** A change to a breaker: pure, so that it can be decided again on a newer row. */
export type BreakerDecision<T> = (row: Omit<BreakerRow, 'version'>, now: number) => BreakerChange<T>;

interface Pending {
  readonly decide: BreakerDecision<unknown>;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** The changes of one batch decided in order on one row, and the write they make (none when nothing changed). */
interface Decided {
  readonly results: unknown[];
  readonly write: BreakerWrite | undefined;
}

/**
 * One breaker as this engine runs it: the row (shared by every engine, see `EventStore.openBreaker`)
 * as this engine last saw it, and the changes waiting their turn. Changes run one batch at a
 * time: those that arrive while a batch is at the store are decided together next, in arrival
 * order, each on the state the one before left, and written in one statement. Nothing is
 * answered before the row is known to be current:
 *
 * - a batch that changes nothing (an admission while closed) reads the row: one read, and the
 *   answers stand if no one wrote it since it was last seen here (else it is decided again on it);
 * - a batch that changes the row writes it if its version is still the one seen here (one
 *   statement, which also appends the transitions to the breaker's stream);
 * - when another engine wrote in between, the batch is decided again in a transaction holding
 *   the row's lock, so that engines busy with the same breaker take turns instead of one losing
 *   every race.
 */
export class SharedBreaker {
  readonly #name: string;
  readonly #store: EventStore;
  readonly #clock: () => number;
  #row: BreakerRow | undefined;
  readonly #queue: Pending[] = [];
  #running: Promise<void> | undefined;

  constructor(options: { name: string; store: EventStore; clock: () => number }) {
    this.#name = options.name;
    this.#store = options.store;
    this.#clock = options.clock;
  }

  /** Decides `decide` on the breaker's current row, writes what it changed, and resolves to its answer. */
  change<T>(decide: BreakerDecision<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ decide, resolve: resolve as (result: unknown) => void, reject });
      this.#running ??= this.#drain();
    });
  }

  /** Resolves once no change is waiting or under way. */
  idle(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0);
      try {
        const results = await this.#settle(batch.map((pending) => pending.decide));
        for (const [i, pending] of batch.entries()) pending.resolve(results[i]);
      } catch (error) {
        // What the store holds now is not known: read it again next time.
        this.#row = undefined;
        for (const pending of batch) pending.reject(error);
      }
    }
    this.#running = undefined;
  }

  async #settle(decides: readonly BreakerDecision<unknown>[]): Promise<unknown[]> {
    let row = this.#row;
    let current = row === undefined;
    if (row === undefined) row = await this.#store.openBreaker(this.#name);
    for (;;) {
      const decided = decideAll(row, decides, this.#clock());
      if (decided.write === undefined) {
        if (!current) {
          const read = await this.#store.openBreaker(this.#name);
          current = true;
          if (read.version !== row.version) {
            row = read;
            continue;
          }
        }
        this.#row = row;
        return decided.results;
      }
      const version = await this.#store.writeBreaker(this.#name, row.version, decided.write);
      if (version === undefined) break;
      this.#row = rowAfter(version, decided.write);
      return decided.results;
    }
    // Another engine wrote the row since it was read here: decide again holding its lock.
    let results: unknown[] = [];
    this.#row = await this.#store.updateBreaker(this.#name, (locked) => {
      const decided = decideAll(locked, decides, this.#clock());
      results = decided.results;
      return decided.write;
    });
    return results;
  }
}

function decideAll(row: BreakerRow, decides: readonly BreakerDecision<unknown>[], now: number): Decided {
  let state = row.state;
  let policy = row.policy;
  const transitions: BreakerEvent[] = [];
  const results: unknown[] = [];
  for (const decide of decides) {
    const change = decide(policy === undefined ? { state } : { state, policy }, now);
    state = change.state;
    policy = change.policy ?? policy;
    transitions.push(...change.transitions);
    results.push(change.result);
  }
  const changed = transitions.length > 0 || !sameBytes(encode([state, policy]), encode([row.state, row.policy]));
  return { results, write: changed ? { state, policy, events: transitions, recordedAt: now } : undefined };
}

function rowAfter(version: number, write: BreakerWrite): BreakerRow {
  return { version, state: write.state, ...(write.policy === undefined ? {} : { policy: write.policy }) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}
