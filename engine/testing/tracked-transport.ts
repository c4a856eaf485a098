import {
  type ConsumeOptions,
  type RequestHandler,
  type RequestOptions,
  type Subscription,
  type TaskConsumer,
  type TaskDelivery,
  type TaskQueue,
  type Transport,
  TransportError,
} from '@ratchet/sdk/transport';
import type { Activity } from './activity.ts';

export interface TrackedTransportOptions {
  /** The environment's shared transport; this one is one party's connection to it. */
  readonly transport: Transport;
  readonly activity: Activity;
  /** Told of each task this party acknowledges (the duplicate-delivery fault republishes it). */
  readonly onAck?: (data: Uint8Array) => void;
}

/**
 * One party's connection to the test environment's transport: requests, task publishes and task
 * hand-backs count as work in progress, and `sever()` cuts the connection the way a crashed
 * process loses it — pending requests fail, nothing more goes out or comes in, and the tasks it
 * held go back to the queue to be delivered again.
 */
export class TrackedTransport implements Transport {
  readonly #o: TrackedTransportOptions;
  readonly #pending = new Set<(error: TransportError) => void>();
  readonly #consumers = new Set<TaskConsumer>();
  /** Deliveries this party holds unsettled, as the shared transport delivered them. */
  readonly #held = new Set<TaskDelivery>();
  #severed = false;

  constructor(options: TrackedTransportOptions) {
    this.#o = options;
  }

  get severed(): boolean {
    return this.#severed;
  }

  serve(subject: string, handler: RequestHandler): Subscription {
    return this.#o.transport.serve(subject, handler);
  }

  request(subject: string, payload: Uint8Array, options?: RequestOptions): Promise<Uint8Array> {
    if (this.#severed) return Promise.reject(gone());
    return this.#o.activity.track(
      () =>
        new Promise<Uint8Array>((resolve, reject) => {
          const fail = (error: TransportError) => {
            this.#pending.delete(fail);
            reject(error);
          };
          this.#pending.add(fail);
          this.#o.transport.request(subject, payload, options).then(
            (reply) => {
              if (!this.#pending.delete(fail)) return;
              resolve(reply);
            },
            (error: unknown) => {
              if (!this.#pending.delete(fail)) return;
              reject(error);
            },
          );
        }),
    );
  }

  publish(subject: string, payload: Uint8Array): void {
    if (!this.#severed) this.#o.transport.publish(subject, payload);
  }

  subscribe(subject: string, handler: (payload: Uint8Array) => void): Subscription {
    return this.#o.transport.subscribe(subject, (payload) => {
      if (!this.#severed) handler(payload);
    });
  }

  ensureTaskQueue(queue: TaskQueue): Promise<void> {
    if (this.#severed) return Promise.reject(gone());
    return this.#o.transport.ensureTaskQueue(queue);
  }

  publishTask(queue: TaskQueue, payload: Uint8Array, messageId: string): Promise<void> {
    if (this.#severed) return Promise.reject(gone());
    return this.#o.activity.track(() => this.#o.transport.publishTask(queue, payload, messageId));
  }

  consumeTasks(queue: TaskQueue, options: ConsumeOptions): TaskConsumer {
    const inner = this.#o.transport.consumeTasks(queue, options);
    this.#consumers.add(inner);
    const wrap = (delivery: TaskDelivery) => this.#wrap(delivery);
    const severed = () => this.#severed;
    return {
      stop: () => inner.stop(),
      async *[Symbol.asyncIterator]() {
        for await (const delivery of inner) {
          if (severed()) {
            delivery.nak(0);
            return;
          }
          yield wrap(delivery);
        }
      },
    };
  }

  /** The environment closes the shared transport; one party closing its connection changes nothing. */
  async close(): Promise<void> {}

  /**
   * Cuts this connection at once, as a crash would: pending requests fail, consumers stop, and
   * the tasks held go back to the queue (as their ack wait running out would bring them back,
   * with a higher delivery count) for another worker to claim.
   */
  sever(): void {
    if (this.#severed) return;
    this.#severed = true;
    for (const fail of [...this.#pending]) fail(gone());
    for (const consumer of this.#consumers) void consumer.stop();
    for (const delivery of this.#held) delivery.nak(0);
    this.#held.clear();
  }

  #wrap(delivery: TaskDelivery): TaskDelivery {
    this.#held.add(delivery);
    const settle = (done: () => void) => {
      if (this.#severed || !this.#held.delete(delivery)) return false;
      done();
      return true;
    };
    return {
      data: delivery.data,
      deliveryCount: delivery.deliveryCount,
      ack: () => {
        if (settle(() => delivery.ack())) this.#o.onAck?.(delivery.data);
      },
      nak: (delayMs?: number) => {
        settle(() => {
          if (delayMs !== undefined && delayMs > 0) {
            // The task is out of everyone's hands until it comes back: the environment is not idle.
            const end = this.#o.activity.begin();
            setTimeout(end, delayMs + 5).unref();
          }
          delivery.nak(delayMs);
        });
      },
      working: () => {
        if (!this.#severed) delivery.working();
      },
    };
  }
}

function gone(): TransportError {
  return new TransportError('the connection was cut: this worker crashed', 'closed');
}
