import type { AppendRequest, EventStore } from '@ratchet/store';

/** Store calls by method, and what the appends carried. */
export interface StoreCounts {
  readonly calls: Map<string, number>;
  /** Job appends carried by the `append` calls (a group commit carries many). */
  appendRequests: number;
  appendedEvents: number;
}

/** A store that counts, with its counters. */
export interface CountingEventStore {
  readonly store: EventStore;
  readonly counts: StoreCounts;
  /** Calls of every method but `close`. */
  totalCalls(): number;
  reset(): void;
}

/**
 * Wraps an EventStore to count calls by method. `KyselyEventStore` runs every operation as one
 * statement without BEGIN/COMMIT, so calls = statements = transactions, and `append` calls =
 * write commits (group commits). A Proxy, so that methods the seam gains later are counted too.
 */
export function countingEventStore(inner: EventStore): CountingEventStore {
  const counts: StoreCounts = { calls: new Map(), appendRequests: 0, appendedEvents: 0 };
  const store = new Proxy(inner, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        if (property !== 'close') counts.calls.set(property, (counts.calls.get(property) ?? 0) + 1);
        if (property === 'append') {
          const requests = args[0] as readonly AppendRequest[];
          counts.appendRequests += requests.length;
          for (const request of requests) counts.appendedEvents += request.events.length;
        }
        return value.apply(target, args);
      };
    },
  });
  return {
    store,
    counts,
    totalCalls: () => [...counts.calls.values()].reduce((sum, count) => sum + count, 0),
    reset() {
      counts.calls.clear();
      counts.appendRequests = 0;
      counts.appendedEvents = 0;
    },
  };
}
