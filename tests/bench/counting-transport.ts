import { decode } from '@ratchet/protocol';
import type { ConsumeOptions, RequestOptions, TaskConsumer, TaskDelivery, TaskQueue, Transport } from '@ratchet/sdk/transport';

/** What went through a counting transport. */
export interface TransportCounts {
  /** Engine requests (round trips) by command type. */
  readonly requests: Map<string, number>;
  requestBytes: number;
  replyBytes: number;
  /** Tasks delivered to consumers (first deliveries and redeliveries). */
  deliveries: number;
  publishes: number;
  subscriptions: number;
}

/** A transport that counts, with its counters. */
export interface CountingTransport {
  readonly transport: Transport;
  readonly counts: TransportCounts;
  /** Round trips of every type. */
  totalRequests(): number;
  /** Zeroes every counter (after a warm-up). */
  reset(): void;
}

/**
 * Wraps a Transport to count engine round trips, task deliveries, publishes and subscriptions.
 * With `byType`, round trips are counted by command type, which decodes every request: a few
 * microseconds each, enough to show in W2 and W3, which therefore count without it. A Proxy
 * rather than a class, so that methods the seam gains later pass straight through.
 */
export function countingTransport(inner: Transport, { byType }: { readonly byType: boolean }): CountingTransport {
  const counts: TransportCounts = { requests: new Map(), requestBytes: 0, replyBytes: 0, deliveries: 0, publishes: 0, subscriptions: 0 };
  const overrides: Partial<Transport> = {
    async request(subject: string, payload: Uint8Array, options?: RequestOptions): Promise<Uint8Array> {
      const type = byType ? commandType(payload) : 'any';
      counts.requests.set(type, (counts.requests.get(type) ?? 0) + 1);
      counts.requestBytes += payload.byteLength;
      const reply = await inner.request(subject, payload, options);
      counts.replyBytes += reply.byteLength;
      return reply;
    },
    publish(subject: string, payload: Uint8Array): void {
      counts.publishes++;
      inner.publish(subject, payload);
    },
    subscribe(subject: string, handler: (payload: Uint8Array) => void) {
      counts.subscriptions++;
      return inner.subscribe(subject, handler);
    },
    consumeTasks(queue: TaskQueue, options: ConsumeOptions): TaskConsumer {
      return countDeliveries(inner.consumeTasks(queue, options), counts);
    },
  };
  const transport = new Proxy(inner, {
    get(target, property) {
      const override = overrides[property as keyof Transport];
      if (override) return override;
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    transport,
    counts,
    totalRequests: () => [...counts.requests.values()].reduce((sum, count) => sum + count, 0),
    reset() {
      Object.assign(counts, { requestBytes: 0, replyBytes: 0, deliveries: 0, publishes: 0, subscriptions: 0 });
      counts.requests.clear();
    },
  };
}

function countDeliveries(inner: TaskConsumer, counts: TransportCounts): TaskConsumer {
  return {
    stop: () => inner.stop(),
    [Symbol.asyncIterator](): AsyncIterator<TaskDelivery> {
      const it = inner[Symbol.asyncIterator]();
      return {
        async next() {
          const result = await it.next();
          if (!result.done) counts.deliveries++;
          return result;
        },
        return: (value?: unknown) => (it.return ? it.return(value) : Promise.resolve({ done: true as const, value: undefined })),
      };
    },
  };
}

function commandType(payload: Uint8Array): string {
  try {
    const type = (decode(payload) as { type?: unknown } | null)?.type;
    return typeof type === 'string' ? type : 'unknown';
  } catch {
    return 'undecodable';
  }
}
