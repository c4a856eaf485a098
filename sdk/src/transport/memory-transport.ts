import { MemoryTaskQueue } from './memory-task-queue.ts';
import { SubjectPattern } from './subject-pattern.ts';
import { isConcreteSubject, resolveConsumeOptions, resolveTaskQueue } from './task-queue-options.ts';
import type { ConsumeOptions, RequestHandler, RequestOptions, Subscription, TaskConsumer, TaskQueue, Transport } from './transport.ts';
import { TransportError } from './transport.ts';
import { DEFAULT_MAX_PAYLOAD, DEFAULT_REQUEST_TIMEOUT_MS } from './transport-defaults.ts';

/** Options of {@link MemoryTransport}. */
export interface MemoryTransportOptions {
  /** Largest payload accepted, in bytes, like a nats-server's `max_payload`. @default 1048576 */
  readonly maxPayload?: number;
  /**
   * Told when a `serve` or `subscribe` handler throws (handlers should not: a failed request is
   * answered with a `TransportError` of code `failed`, a failed notification is dropped).
   * @default writes the error to `console.error`
   */
  readonly onError?: (error: unknown, subject: string) => void;
}

interface Handler<T> {
  readonly pattern: SubjectPattern;
  readonly handler: T;
}

/**
 * The in-process {@link Transport} behind `ratchet dev` and the test kit: NATS semantics without
 * a network. Requests go round-robin to the handlers serving a subject; notifications reach the
 * subscribers of the moment; task queues behave like JetStream work queues (see
 * `memory-task-queue.ts`). Payloads are copied on the way in, so a caller cannot change queued or
 * delivered data afterwards. Task queues live in memory: they end with the process.
 *
 * @example
 * ```ts
 * const transport = new MemoryTransport();
 * transport.serve('greet', async (name) => new TextEncoder().encode(`hello ${new TextDecoder().decode(name)}`));
 * const reply = await transport.request('greet', new TextEncoder().encode('Ada'));
 * ```
 */
export class MemoryTransport implements Transport {
  readonly #maxPayload: number;
  readonly #onError: (error: unknown, subject: string) => void;
  readonly #servers: Handler<RequestHandler>[] = [];
  readonly #subscribers: Handler<(payload: Uint8Array) => void>[] = [];
  readonly #turns = new Map<string, number>();
  readonly #pending = new Set<(outcome: Uint8Array | TransportError) => void>();
  readonly #queues = new Map<string, MemoryTaskQueue>();
  #closed = false;

  constructor(options: MemoryTransportOptions = {}) {
    this.#maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.#onError = options.onError ?? ((error, subject) => console.error(`ratchet transport: handler for ${subject} failed`, error));
  }

  serve(subject: string, handler: RequestHandler): Subscription {
    this.#assertOpen();
    return this.#add(this.#servers, { pattern: new SubjectPattern(subject), handler });
  }

  request(subject: string, payload: Uint8Array, options: RequestOptions = {}): Promise<Uint8Array> {
    try {
      this.#assertOpen();
      this.#assertPublishable(subject, payload);
    } catch (error) {
      return Promise.reject(error);
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!(timeoutMs > 0)) return Promise.reject(new RangeError(`timeoutMs must be positive, got ${timeoutMs}`));
    const server = this.#pickServer(subject);
    if (server === undefined) {
      return Promise.reject(new TransportError(`no responders for ${subject}`, 'no-responders'));
    }
    const data = payload.slice();
    return new Promise<Uint8Array>((resolve, reject) => {
      const settle = (outcome: Uint8Array | TransportError) => {
        if (!this.#pending.delete(settle)) return;
        clearTimeout(timer);
        if (outcome instanceof TransportError) reject(outcome);
        else resolve(outcome);
      };
      const timer = setTimeout(
        () => settle(new TransportError(`request to ${subject} timed out after ${timeoutMs} ms`, 'timeout')),
        timeoutMs,
      );
      this.#pending.add(settle);
      void this.#answer(server.handler, subject, data).then(settle);
    });
  }

  publish(subject: string, payload: Uint8Array): void {
    this.#assertOpen();
    this.#assertPublishable(subject, payload);
    for (const subscriber of this.#subscribers) {
      if (!subscriber.pattern.matches(subject)) continue;
      const data = payload.slice();
      queueMicrotask(() => {
        if (!this.#subscribers.includes(subscriber)) return;
        try {
          subscriber.handler(data);
        } catch (error) {
          this.#onError(error, subject);
        }
      });
    }
  }

  subscribe(subject: string, handler: (payload: Uint8Array) => void): Subscription {
    this.#assertOpen();
    return this.#add(this.#subscribers, { pattern: new SubjectPattern(subject), handler });
  }

  async ensureTaskQueue(queue: TaskQueue): Promise<void> {
    this.#assertOpen();
    const resolved = resolveTaskQueue(queue);
    const existing = this.#queues.get(resolved.stream);
    if (existing && existing.subject !== resolved.subject) {
      // As NatsTransport: the queue belongs to someone else, whose tasks would be lost.
      throw new TransportError(
        `stream ${resolved.stream} exists with subjects ${JSON.stringify([existing.subject])}, not ["${resolved.subject}"]: another installation (or prefix) uses it; give this one a prefix of its own rather than take the stream over`,
        'failed',
      );
    }
    if (existing) existing.configure(resolved);
    else this.#queues.set(resolved.stream, new MemoryTaskQueue(resolved));
  }

  async publishTask(queue: TaskQueue, payload: Uint8Array, messageId: string): Promise<void> {
    this.#assertOpen();
    const { subject } = resolveTaskQueue(queue);
    this.#assertPublishable(subject, payload);
    if (messageId.length === 0) throw new RangeError('a task needs a non-empty messageId');
    // Like JetStream, the subject (not the stream name) decides where the task is stored.
    const stored = [...this.#queues.values()].find((candidate) => candidate.subject === subject);
    if (stored === undefined) {
      throw new TransportError(`no task queue stores ${subject}; call ensureTaskQueue first`, 'no-responders');
    }
    stored.add(payload.slice(), messageId, Date.now());
  }

  consumeTasks(queue: TaskQueue, options: ConsumeOptions): TaskConsumer {
    this.#assertOpen();
    const { stream } = resolveTaskQueue(queue);
    const resolved = resolveConsumeOptions(options);
    const stored = this.#queues.get(stream);
    if (stored === undefined) {
      return failedConsumer(new TransportError(`task queue ${stream} not found; call ensureTaskQueue first`, 'failed'));
    }
    return stored.consume(resolved);
  }

  /** Deletes a task queue with every task in it, as `NatsTransport.deleteTaskQueue` does. */
  async deleteTaskQueue(queue: TaskQueue): Promise<void> {
    this.#assertOpen();
    const { stream } = resolveTaskQueue(queue);
    this.#queues.get(stream)?.close();
    this.#queues.delete(stream);
  }

  /** Rejects pending requests with code `closed`, ends every consumer and drops every queue. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new TransportError('the transport was closed', 'closed');
    for (const settle of [...this.#pending]) settle(closed);
    this.#servers.length = 0;
    this.#subscribers.length = 0;
    for (const queue of this.#queues.values()) queue.close();
    this.#queues.clear();
  }

  /** Runs a handler; resolves to its reply (copied) or to the error the requester gets. */
  async #answer(handler: RequestHandler, subject: string, data: Uint8Array): Promise<Uint8Array | TransportError> {
    let reply: Uint8Array;
    try {
      // Never inside the requester's call stack, as over a network.
      await Promise.resolve();
      reply = await handler(data);
      if (!(reply instanceof Uint8Array)) throw new TypeError(`the handler returned ${typeof reply}, not a Uint8Array`);
    } catch (error) {
      this.#onError(error, subject);
      return new TransportError(`the handler for ${subject} failed: ${messageOf(error)}`, 'failed', { cause: error });
    }
    if (reply.byteLength > this.#maxPayload) {
      return new TransportError(`the reply of ${subject} (${reply.byteLength} bytes) exceeds ${this.#maxPayload} bytes`, 'too-large');
    }
    return reply.slice();
  }

  #add<T>(list: Handler<T>[], entry: Handler<T>): Subscription {
    list.push(entry);
    return {
      unsubscribe: () => {
        const index = list.indexOf(entry);
        if (index !== -1) list.splice(index, 1);
      },
    };
  }

  #pickServer(subject: string): Handler<RequestHandler> | undefined {
    const matching = this.#servers.filter((server) => server.pattern.matches(subject));
    if (matching.length === 0) return undefined;
    if (matching.length === 1) return matching[0];
    // Only subjects served more than once need a turn, which keeps the map small.
    const turn = (this.#turns.get(subject) ?? 0) % matching.length;
    this.#turns.set(subject, turn + 1);
    return matching[turn];
  }

  #assertOpen(): void {
    if (this.#closed) throw new TransportError('the transport is closed', 'closed');
  }

  #assertPublishable(subject: string, payload: Uint8Array): void {
    if (!isConcreteSubject(subject)) throw new TransportError(`invalid subject "${subject}"`, 'failed');
    if (payload.byteLength > this.#maxPayload) {
      throw new TransportError(`payload for ${subject} (${payload.byteLength} bytes) exceeds ${this.#maxPayload} bytes`, 'too-large');
    }
  }
}

function failedConsumer(error: TransportError): TaskConsumer {
  return {
    stop: () => Promise.resolve(),
    [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }),
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
