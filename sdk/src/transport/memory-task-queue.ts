import type { ResolvedTaskQueue } from './task-queue-options.ts';
import { resolveNakDelay } from './task-queue-options.ts';
import type { ConsumeOptions, TaskConsumer, TaskDelivery } from './transport.ts';
import { TransportError } from './transport.ts';

interface QueuedTask {
  readonly data: Uint8Array;
  deliveryCount: number;
  /** The delivery that holds the task now, if any; a stale delivery's ack/nak is ignored. */
  lease: MemoryTaskDelivery | undefined;
}

/**
 * One in-process work queue, with the semantics of a JetStream work-queue stream and one shared
 * durable pull consumer: a task goes to one consumer at a time, stays until acknowledged, comes
 * back after the ack wait or a nak, and a repeated message id inside the duplicate window is
 * dropped. Tasks given back are delivered before fresh ones, as nats-server does.
 */
export class MemoryTaskQueue {
  readonly stream: string;
  readonly subject: string;
  #duplicateWindowMs: number;
  /** The first consumer name used here owns the queue, as a work-queue stream allows one. */
  #consumerName: string | undefined;
  readonly #returned: QueuedTask[] = [];
  readonly #fresh: QueuedTask[] = [];
  /** messageId → time first seen; insertion order is time order. */
  readonly #seen = new Map<string, number>();
  readonly #consumers: MemoryTaskConsumer[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  #turn = 0;
  #closed = false;

  constructor(queue: ResolvedTaskQueue) {
    this.stream = queue.stream;
    this.subject = queue.subject;
    this.#duplicateWindowMs = queue.duplicateWindowMs;
  }

  /** Applies a (possibly changed) duplicate window, as `ensureTaskQueue` updates a stream. */
  configure(queue: ResolvedTaskQueue): void {
    this.#duplicateWindowMs = queue.duplicateWindowMs;
  }

  /** Adds a task; returns false when `messageId` was seen inside the duplicate window. */
  add(data: Uint8Array, messageId: string, now: number): boolean {
    for (const [id, at] of this.#seen) {
      if (now - at < this.#duplicateWindowMs) break;
      this.#seen.delete(id);
    }
    if (this.#seen.has(messageId)) return false;
    this.#seen.set(messageId, now);
    this.#fresh.push({ data, deliveryCount: 0, lease: undefined });
    this.pump();
    return true;
  }

  consume(options: ConsumeOptions): MemoryTaskConsumer {
    const consumer = new MemoryTaskConsumer(this, options);
    if (this.#consumerName === undefined) this.#consumerName = options.consumer;
    if (this.#consumerName !== options.consumer) {
      consumer.fail(
        new TransportError(
          `task queue ${this.stream} is consumed as "${this.#consumerName}"; a second consumer name "${options.consumer}" is not allowed on a work queue`,
          'failed',
        ),
      );
    } else {
      this.#consumers.push(consumer);
    }
    return consumer;
  }

  /** Hands out ready tasks to consumers that are waiting and have room, in turn. */
  pump(): void {
    while (!this.#closed) {
      const queue = this.#returned.length > 0 ? this.#returned : this.#fresh;
      const task = queue[0];
      if (task === undefined) return;
      const consumer = this.#nextReadyConsumer();
      if (consumer === undefined) return;
      queue.shift();
      task.deliveryCount += 1;
      consumer.take(task);
    }
  }

  /** Puts a task back, at once or after `delayMs`. */
  giveBack(task: QueuedTask, delayMs: number): void {
    if (this.#closed) return;
    if (delayMs <= 0) {
      this.#returned.push(task);
      this.pump();
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.giveBack(task, 0);
    }, delayMs);
    timer.unref();
    this.#timers.add(timer);
  }

  detach(consumer: MemoryTaskConsumer): void {
    const index = this.#consumers.indexOf(consumer);
    if (index !== -1) this.#consumers.splice(index, 1);
  }

  /** Stops every consumer and forgets every task. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const consumer of [...this.#consumers]) void consumer.stop();
    this.#returned.length = 0;
    this.#fresh.length = 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #nextReadyConsumer(): MemoryTaskConsumer | undefined {
    const count = this.#consumers.length;
    for (let i = 0; i < count; i++) {
      const consumer = this.#consumers[(this.#turn + i) % count];
      if (consumer?.ready) {
        this.#turn = (this.#turn + i + 1) % count;
        return consumer;
      }
    }
    return undefined;
  }
}

interface Waiter {
  resolve(result: IteratorResult<TaskDelivery>): void;
  reject(error: unknown): void;
}

/**
 * One `consumeTasks` iteration. It has no buffer: a task is leased to it only when its loop asks
 * for the next one and it holds fewer than `maxInFlight` leases.
 */
export class MemoryTaskConsumer implements TaskConsumer {
  readonly #queue: MemoryTaskQueue;
  readonly #ackWaitMs: number;
  readonly #maxInFlight: number;
  readonly #waiters: Waiter[] = [];
  #inFlight = 0;
  #stopped = false;
  #failure: TransportError | undefined;

  constructor(queue: MemoryTaskQueue, options: ConsumeOptions) {
    this.#queue = queue;
    this.#ackWaitMs = options.ackWaitMs;
    this.#maxInFlight = options.maxInFlight;
  }

  /** True when it is waiting for a task and has room for one more lease. */
  get ready(): boolean {
    return !this.#stopped && this.#waiters.length > 0 && this.#inFlight < this.#maxInFlight;
  }

  take(task: QueuedTask): void {
    this.#inFlight += 1;
    const delivery = new MemoryTaskDelivery(task, this.#ackWaitMs, (delayMs) => {
      this.#inFlight -= 1;
      if (delayMs !== undefined) this.#queue.giveBack(task, delayMs);
      this.#queue.pump();
    });
    this.#waiters.shift()?.resolve({ value: delivery, done: false });
  }

  /** Makes the iteration reject with `error` (e.g. a refused consumer name). */
  fail(error: TransportError): void {
    this.#failure = error;
    this.#stopped = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  next(): Promise<IteratorResult<TaskDelivery>> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#stopped) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#queue.pump();
    });
  }

  /**
   * Ends the iteration at once. Tasks already delivered stay leased to their holder, who may
   * still ack, nak or extend them; unsettled ones come back after the ack wait, as on NATS.
   */
  stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      this.#queue.detach(this);
      for (const waiter of this.#waiters.splice(0)) waiter.resolve({ value: undefined, done: true });
    }
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
}

/** One delivery of a task; its lease ends with ack, nak or the ack wait running out. */
class MemoryTaskDelivery implements TaskDelivery {
  readonly data: Uint8Array;
  readonly deliveryCount: number;
  readonly #task: QueuedTask;
  readonly #timer: NodeJS.Timeout;
  /** Ends the lease: `undefined` removes the task, a number gives it back after that delay. */
  readonly #release: (giveBackInMs: number | undefined) => void;

  constructor(task: QueuedTask, ackWaitMs: number, release: (giveBackInMs: number | undefined) => void) {
    this.data = task.data.slice();
    this.deliveryCount = task.deliveryCount;
    this.#task = task;
    this.#release = release;
    task.lease = this;
    this.#timer = setTimeout(() => this.#end(0), ackWaitMs);
    this.#timer.unref();
  }

  ack(): void {
    this.#end(undefined);
  }

  nak(delayMs?: number): void {
    this.#end(resolveNakDelay(delayMs));
  }

  working(): void {
    if (this.#task.lease === this) this.#timer.refresh();
  }

  #end(giveBackInMs: number | undefined): void {
    if (this.#task.lease !== this) return;
    this.#task.lease = undefined;
    clearTimeout(this.#timer);
    this.#release(giveBackInMs);
  }
}
