/**
 * The seam between Ratchet's processes: request/reply for engine commands, fire-and-forget
 * pub/sub for notifications, and a durable work queue for tasks. `NatsTransport` (NATS core +
 * JetStream) is the production implementation; `MemoryTransport` is the in-process one behind
 * `ratchet dev` and the test kit. Both pass the same conformance suite.
 */
export interface Transport {
  /** Answers requests on `subject`; replicas serving the same subject share the load. */
  serve(subject: string, handler: RequestHandler): Subscription;
  /** Sends a request and waits for its reply; rejects with {@link TransportError} on timeout or no responder. */
  request(subject: string, payload: Uint8Array, options?: RequestOptions): Promise<Uint8Array>;
  /** Publishes a notification to whoever is subscribed now (at most once). */
  publish(subject: string, payload: Uint8Array): void;
  /** Receives notifications published to `subject` from now on. */
  subscribe(subject: string, handler: (payload: Uint8Array) => void): Subscription;
  /**
   * Creates the work queue if missing (idempotent). A queue of that stream name with another
   * subject is refused with a {@link TransportError} (`failed`), left as it is.
   */
  ensureTaskQueue(queue: TaskQueue): Promise<void>;
  /**
   * Adds a task to the queue. A second task with the same `messageId` inside the queue's
   * duplicate window is dropped, so a republish after a crash does not run a job twice.
   */
  publishTask(queue: TaskQueue, payload: Uint8Array, messageId: string): Promise<void>;
  /**
   * Delivers tasks, each to one consumer at a time. A task not acknowledged within `ackWaitMs`
   * (extended by `working()`) is delivered again, with a higher `deliveryCount`.
   */
  consumeTasks(queue: TaskQueue, options: ConsumeOptions): TaskConsumer;
  close(): Promise<void>;
}

/**
 * Answers one request. It should not throw: errors a requester must see belong in the reply. A
 * handler that throws anyway is reported to the transport's `onError`, and the requester gets a
 * {@link TransportError} of code `failed` at once (not a timeout).
 */
export type RequestHandler = (payload: Uint8Array) => Promise<Uint8Array>;

export interface RequestOptions {
  /** @default 5000 */
  readonly timeoutMs?: number;
}

export interface Subscription {
  unsubscribe(): void;
}

/** A durable work queue: a JetStream work-queue stream for NATS. */
export interface TaskQueue {
  /** Stream name (letters, digits, `_`). */
  readonly stream: string;
  /** Subject tasks are published to. */
  readonly subject: string;
  /** Window in which a repeated message id is dropped. @default 120000 */
  readonly duplicateWindowMs?: number;
}

export interface ConsumeOptions {
  /** Consumers with the same name share the queue (each task goes to one of them). */
  readonly consumer: string;
  /** Time a delivery may go unacknowledged before redelivery. */
  readonly ackWaitMs: number;
  /** Most tasks this consumer holds unacknowledged at once. */
  readonly maxInFlight: number;
}

/** Tasks as they arrive: `for await (const task of consumer)`. `stop()` ends the iteration. */
export interface TaskConsumer extends AsyncIterable<TaskDelivery> {
  /**
   * Ends the iteration promptly (breaking out of the loop does too). Tasks already delivered stay
   * with their holder, who may still `ack`, `nak` or extend them, so a worker can finish its
   * in-flight tasks after stopping; whatever is never acknowledged is delivered again after the
   * ack wait. Nothing is lost.
   */
  stop(): Promise<void>;
}

export interface TaskDelivery {
  readonly data: Uint8Array;
  /** 1 on first delivery, more on redelivery. */
  readonly deliveryCount: number;
  /** Done with the task: it is removed from the queue. */
  ack(): void;
  /** Give the task back, to be delivered again after `delayMs` (default: at once). */
  nak(delayMs?: number): void;
  /** Still working on it: restarts the ack-wait clock (the heartbeat). */
  working(): void;
}

/** The transport could not deliver: no responder, timeout, or connection lost. `code` says which. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  readonly code: 'timeout' | 'no-responders' | 'closed' | 'too-large' | 'failed';
  constructor(message: string, code: TransportError['code'], options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
