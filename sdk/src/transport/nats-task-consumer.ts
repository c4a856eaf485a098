import type { Consumer, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { AckPolicy, DeliverPolicy, JetStreamApiError } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { ResolvedTaskQueue } from './task-queue-options.ts';
import { resolveNakDelay } from './task-queue-options.ts';
import { toTransportError } from './to-transport-error.ts';
import type { ConsumeOptions, TaskConsumer, TaskDelivery } from './transport.ts';
import { TransportError } from './transport.ts';

/** What a {@link NatsTaskConsumer} needs; built by `NatsTransport.consumeTasks`. */
export interface NatsTaskConsumerConfig {
  /** The JetStream handles, opened once per transport. */
  readonly jetstream: () => Promise<{ readonly jsm: JetStreamManager; readonly js: JetStreamClient }>;
  readonly queue: ResolvedTaskQueue;
  readonly options: ConsumeOptions;
  /** How long one pull request waits on the server (at least 1000). */
  readonly pullExpiresMs: number;
  readonly isClosed: () => boolean;
  readonly onError: (error: unknown, subject: string) => void;
  /** Called once, when the consumer stops. */
  readonly onStop: (consumer: NatsTaskConsumer) => void;
}

interface Waiter {
  resolve(result: IteratorResult<TaskDelivery>): void;
  reject(error: unknown): void;
}

const RETRY_MS = 1000;
const MAX_RETRY_MS = 10_000;
const CONSUMER_ALREADY_EXISTS = 10148;
const CONSUMER_NAME_IN_USE = 10013;
/** JetStream API error code: consumer not found. */
const CONSUMER_NOT_FOUND = 10014;

/**
 * Tasks from a durable JetStream pull consumer, never holding more than `maxInFlight` of them.
 *
 * nats.js's `consume()` asks the server for more messages as soon as messages *arrive*, not when
 * they are acknowledged, so it cannot bound the tasks a process holds. This consumer keeps its
 * own credit instead: it pulls (with `fetch`) only as many messages as it has room for, counting
 * every message received and not yet acked, nak'ed or past its ack wait, plus every message
 * asked for and not yet received. Pulls are batched: a new one goes out when a quarter of
 * `maxInFlight` is free, or when none is outstanding.
 */
export class NatsTaskConsumer implements TaskConsumer {
  readonly #config: NatsTaskConsumerConfig;
  readonly #maxInFlight: number;
  readonly #batch: number;
  readonly #buffer: NatsTaskDelivery[] = [];
  readonly #waiters: Waiter[] = [];
  #consumer: Consumer | undefined;
  /** Received and not yet settled (buffered ones included). */
  #held = 0;
  /** Asked of the server and not yet received. */
  #requested = 0;
  #recovering = false;
  /** Ends the pause of a recovery early (on stop). */
  #wake: (() => void) | undefined;
  #stopped = false;
  /** Pulls still open, ended on stop so the server stops sending to them. */
  readonly #pulls = new Set<{ stop(): void }>();
  #failure: TransportError | undefined;

  constructor(config: NatsTaskConsumerConfig) {
    this.#config = config;
    this.#maxInFlight = config.options.maxInFlight;
    this.#batch = Math.max(1, Math.ceil(config.options.maxInFlight / 4));
    void this.#start();
  }

  next(): Promise<IteratorResult<TaskDelivery>> {
    for (let delivery = this.#buffer.shift(); delivery; delivery = this.#buffer.shift()) {
      if (!delivery.expired) return Promise.resolve({ value: delivery, done: false });
    }
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#stopped) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Ends the iteration at once. Tasks received but not yet handed to the loop are nak'ed (they
   * are redelivered at once); tasks already handed out stay with their holder, who may still
   * ack, nak or extend them; pulls still open are stopped, and a task the server sends to one
   * after that comes back after its ack wait. Nothing is lost: whatever is not acked is
   * redelivered.
   */
  stop(): Promise<void> {
    this.#end(undefined);
    return Promise.resolve();
  }

  [Symbol.asyncIterator](): AsyncIterator<TaskDelivery> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.stop();
        return { value: undefined, done: true };
      },
    };
  }

  async #start(): Promise<void> {
    const { queue, options } = this.#config;
    try {
      const consumer = await this.#ensureConsumer();
      if (this.#stopped) return;
      this.#consumer = consumer;
    } catch (error) {
      this.#end(toTransportError(error, `creating consumer ${options.consumer} on task queue ${queue.stream}`, this.#config.isClosed()));
      return;
    }
    this.#refill();
  }

  /**
   * Finds the durable consumer, creating it when missing or bringing its ack wait up to date.
   * It looks first and adds only when missing: on some servers `add` of an existing durable
   * resets it, which would forget every delivery in flight (and their counts).
   */
  async #ensureConsumer(): Promise<Consumer> {
    const { queue, options } = this.#config;
    const { jsm, js } = await this.#config.jetstream();
    // max_ack_pending is unlimited on the server: every process bounds itself with maxInFlight,
    // and a server-side limit would be shared by all of them.
    const settings = { ack_wait: nanos(options.ackWaitMs), max_ack_pending: -1 };
    const existing = await jsm.consumers.info(queue.stream, options.consumer).catch((error: unknown) => {
      if (error instanceof JetStreamApiError && error.code === CONSUMER_NOT_FOUND) return undefined;
      throw error;
    });
    if (existing === undefined) {
      try {
        await jsm.consumers.add(queue.stream, {
          durable_name: options.consumer,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ...settings,
        });
      } catch (error) {
        // Another process created it meanwhile.
        const exists =
          error instanceof JetStreamApiError && (error.code === CONSUMER_ALREADY_EXISTS || error.code === CONSUMER_NAME_IN_USE);
        if (!exists) throw error;
      }
    } else if (existing.config.ack_wait !== settings.ack_wait || existing.config.max_ack_pending !== settings.max_ack_pending) {
      await jsm.consumers.update(queue.stream, options.consumer, settings);
    }
    return js.consumers.get(queue.stream, options.consumer);
  }

  #refill(): void {
    if (this.#stopped || this.#consumer === undefined || this.#recovering) return;
    const credit = this.#maxInFlight - this.#held - this.#requested;
    if (credit <= 0 || (this.#requested > 0 && credit < this.#batch)) return;
    void this.#pull(this.#consumer, credit);
  }

  async #pull(consumer: Consumer, count: number): Promise<void> {
    this.#requested += count;
    let received = 0;
    let failure: unknown;
    let pull: { stop(): void } | undefined;
    try {
      const messages = await consumer.fetch({ max_messages: count, expires: this.#config.pullExpiresMs });
      pull = messages;
      this.#pulls.add(messages);
      for await (const message of messages) {
        received += 1;
        this.#requested -= 1;
        this.#receive(message);
      }
    } catch (error) {
      failure = error;
    } finally {
      this.#requested -= count - received;
      if (pull) this.#pulls.delete(pull);
    }
    if (this.#stopped) return;
    if (this.#config.isClosed()) {
      this.#end(new TransportError(`task queue ${this.#config.queue.stream}: the connection is closed`, 'closed'));
    } else if (failure !== undefined) {
      this.#config.onError(failure, this.#config.queue.subject);
      await this.#recover();
    } else {
      this.#refill();
    }
  }

  /**
   * After a failed pull (consumer or stream deleted, heartbeats missed, no responders): waits,
   * then creates the consumer again (or finds it unchanged) before pulling again. Waits double
   * from 1 s to 10 s while that fails.
   */
  async #recover(): Promise<void> {
    if (this.#recovering) return;
    this.#recovering = true;
    try {
      for (let attempt = 0; !this.#stopped; attempt++) {
        await this.#pause(Math.min(RETRY_MS * 2 ** attempt, MAX_RETRY_MS));
        if (this.#stopped) return;
        try {
          this.#consumer = await this.#ensureConsumer();
          break;
        } catch (error) {
          if (this.#config.isClosed()) {
            this.#end(new TransportError(`task queue ${this.#config.queue.stream}: the connection is closed`, 'closed'));
            return;
          }
          this.#config.onError(error, this.#config.queue.subject);
        }
      }
    } finally {
      this.#recovering = false;
    }
    this.#refill();
  }

  /** Waits `ms`, or less if the consumer stops meanwhile. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  #receive(message: JsMsg): void {
    if (this.#stopped) {
      // A pull still open after stop(): give the task straight back.
      this.#settle(() => message.nak());
      return;
    }
    this.#held += 1;
    const delivery = new NatsTaskDelivery(message, this.#config.options.ackWaitMs, {
      release: () => {
        this.#held -= 1;
        this.#refill();
      },
      settle: (action) => this.#settle(action),
    });
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve({ value: delivery, done: false });
    else this.#buffer.push(delivery);
  }

  /** Sends an ack, nak or working signal; a failure (connection gone) only means a redelivery. */
  #settle(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.#config.onError(error, this.#config.queue.subject);
    }
  }

  #end(failure: TransportError | undefined): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#failure = failure;
    this.#wake?.();
    for (const delivery of this.#buffer.splice(0)) delivery.nak();
    // Without this, a pull still open on the server would take tasks (answered with naks, at once,
    // over and over) until it expires, keeping them from the consumers that remain.
    for (const pull of this.#pulls) pull.stop();
    this.#pulls.clear();
    for (const waiter of this.#waiters.splice(0)) {
      if (failure) waiter.reject(failure);
      else waiter.resolve({ value: undefined, done: true });
    }
    this.#config.onStop(this);
  }
}

interface DeliveryHooks {
  /** The delivery no longer counts against maxInFlight. */
  release(): void;
  settle(action: () => void): void;
}

/** One delivery of a JetStream message as a {@link TaskDelivery}. */
class NatsTaskDelivery implements TaskDelivery {
  readonly data: Uint8Array;
  readonly deliveryCount: number;
  readonly #message: JsMsg;
  readonly #hooks: DeliveryHooks;
  readonly #timer: NodeJS.Timeout;
  #settled = false;
  #released = false;

  constructor(message: JsMsg, ackWaitMs: number, hooks: DeliveryHooks) {
    this.data = message.data;
    this.deliveryCount = message.info.deliveryCount;
    this.#message = message;
    this.#hooks = hooks;
    // The server redelivers after the ack wait; from then on this delivery no longer counts.
    this.#timer = setTimeout(() => this.#release(), ackWaitMs);
    this.#timer.unref();
  }

  /** True once the ack wait ran out without an ack, nak or working signal. */
  get expired(): boolean {
    return this.#released && !this.#settled;
  }

  ack(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#hooks.settle(() => this.#message.ack());
    this.#release();
  }

  nak(delayMs?: number): void {
    if (this.#settled) return;
    this.#settled = true;
    const delay = resolveNakDelay(delayMs);
    this.#hooks.settle(() => (delay > 0 ? this.#message.nak(delay) : this.#message.nak()));
    this.#release();
  }

  working(): void {
    if (this.#settled) return;
    this.#hooks.settle(() => this.#message.working());
    if (!this.#released) this.#timer.refresh();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    clearTimeout(this.#timer);
    this.#hooks.release();
  }
}
