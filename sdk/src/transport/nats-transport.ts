import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { JetStreamApiError, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { Msg, NatsConnection, Subscription as NatsSubscription } from '@nats-io/transport-node';
import { connect, createInbox, Empty, headers, nanos } from '@nats-io/transport-node';
import { NatsTaskConsumer } from './nats-task-consumer.ts';
import { resolveConsumeOptions, resolveTaskQueue } from './task-queue-options.ts';
import { toTransportError } from './to-transport-error.ts';
import type { ConsumeOptions, RequestHandler, RequestOptions, Subscription, TaskConsumer, TaskQueue, Transport } from './transport.ts';
import { TransportError } from './transport.ts';
import { DEFAULT_REQUEST_TIMEOUT_MS } from './transport-defaults.ts';

/** Options of {@link NatsTransport}. */
export interface NatsTransportOptions {
  /** A connected NATS connection; the transport never closes it (see {@link NatsTransport.connect}). */
  readonly connection: NatsConnection;
  /** Queue group of `serve` subscriptions: replicas in one group share the requests. @default 'engine' */
  readonly queueGroup?: string;
  /**
   * How long one pull request for tasks waits on the server before the next one replaces it.
   * Longer means fewer idle requests; after `stop()` an open pull can still receive tasks for
   * this long, which are then nak'ed at once. At least 1000 (a nats.js minimum).
   * @default 10000
   */
  readonly pullExpiresMs?: number;
  /**
   * Told when a `serve` or `subscribe` handler throws, or a task could not be acked or pulled.
   * @default writes the error to `console.error`
   */
  readonly onError?: (error: unknown, subject: string) => void;
}

/** Options of {@link NatsTransport.connect}. */
export interface NatsConnectOptions extends Omit<NatsTransportOptions, 'connection'> {
  /** One URL or several (a cluster): `nats://127.0.0.1:4222`. */
  readonly servers: string | readonly string[];
  /** Connection name shown by the server's monitoring. */
  readonly name?: string;
}

/** Headers a `serve` side sets on an empty reply when its handler failed. */
const ERROR_CODE_HEADER = 'Ratchet-Error-Code';
const ERROR_HEADER = 'Ratchet-Error';
const REPLY_CODES: ReadonlySet<string> = new Set<TransportError['code']>(['timeout', 'no-responders', 'closed', 'too-large', 'failed']);

const DEFAULT_PULL_EXPIRES_MS = 10_000;
const STREAM_NAME_IN_USE = 10058;
const STREAM_NOT_FOUND = 10059;

/**
 * The production {@link Transport}: NATS core request/reply (queue group `engine`) and pub/sub,
 * and task queues as JetStream work-queue streams read through durable pull consumers.
 *
 * @example
 * ```ts
 * const transport = await NatsTransport.connect({ servers: 'nats://127.0.0.1:4222', name: 'engine' });
 * await transport.ensureTaskQueue({ stream: 'RATCHET_TASKS', subject: 'ratchet.tasks.advance' });
 * await transport.publishTask({ stream: 'RATCHET_TASKS', subject: 'ratchet.tasks.advance' }, bytes, 'job-1:1');
 * await transport.close();
 * ```
 */
export class NatsTransport implements Transport {
  readonly #nc: NatsConnection;
  #ownsConnection = false;
  readonly #queueGroup: string;
  readonly #pullExpiresMs: number;
  readonly #onError: (error: unknown, subject: string) => void;
  readonly #subscriptions = new Set<NatsSubscription>();
  readonly #consumers = new Set<TaskConsumer>();
  /** Requests waiting for their reply, by token. */
  readonly #replies = new Map<string, PendingReply>();
  #nextToken = 0;
  #inbox: string | undefined;
  #jetstream: Promise<{ jsm: JetStreamManager; js: JetStreamClient }> | undefined;
  #closed = false;

  constructor(options: NatsTransportOptions) {
    this.#nc = options.connection;
    this.#queueGroup = options.queueGroup ?? 'engine';
    this.#pullExpiresMs = Math.max(1000, options.pullExpiresMs ?? DEFAULT_PULL_EXPIRES_MS);
    this.#onError = options.onError ?? ((error, subject) => console.error(`ratchet transport: ${subject}`, error));
    void this.#watchConnection();
  }

  /**
   * Fails the requests in flight when the connection drops, and again when it is back. A request
   * sent before the drop, or its reply, may be lost with it; one made while the client was
   * reconnecting is kept and sent once it is back, and measured, none of those was answered
   * either (with the server killed, each of 20 workers' appends waited out its timeout). Waiting
   * out the timeout (10 s by default) held every caller up for nothing, while the connection was
   * back in a fraction of that; the caller now hears at once that the outcome is unknown, as from
   * a timeout. Requests made after the reconnect are left alone.
   */
  async #watchConnection(): Promise<void> {
    try {
      for await (const status of this.#nc.status()) {
        if (this.#closed) return;
        if (status.type === 'disconnect' || status.type === 'reconnect') {
          const what = status.type === 'disconnect' ? 'lost' : 'lost and made again';
          this.#failPending(
            new TransportError(
              `the connection to NATS at ${status.server} was ${what}: the request may or may not have been carried out`,
              'failed',
            ),
          );
        }
      }
    } catch {
      // The status stream ends with the connection; nothing is left to fail.
    }
  }

  #failPending(error: TransportError): void {
    for (const pending of this.#replies.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#replies.clear();
  }

  /**
   * Connects to NATS and returns a transport that owns the connection: `close()` drains it. The
   * connection reconnects forever, so a NATS restart is survived.
   */
  static async connect(options: NatsConnectOptions): Promise<NatsTransport> {
    const { servers, name, ...rest } = options;
    let connection: NatsConnection;
    try {
      connection = await connect({
        servers: typeof servers === 'string' ? servers : [...servers],
        ...(name === undefined ? {} : { name }),
        maxReconnectAttempts: -1,
        // nats.js otherwise allocates an Error (with a stack trace) for every request, in case it
        // times out: a fifth of the CPU of a step, measured. Our errors name the subject anyway.
        noAsyncTraces: true,
      });
    } catch (error) {
      throw toTransportError(error, `connecting to NATS at ${String(servers)}`);
    }
    const transport = new NatsTransport({ ...rest, connection });
    transport.#ownsConnection = true;
    return transport;
  }

  /** The connection underneath, for what the seam does not cover (monitoring, KV). */
  get connection(): NatsConnection {
    return this.#nc;
  }

  /**
   * Answers requests on `subject` in queue group `engine`. A handler should not throw; if it
   * does, the requester gets a `TransportError` of code `failed` at once instead of a timeout.
   */
  serve(subject: string, handler: RequestHandler): Subscription {
    this.#assertOpen();
    return this.#subscribe(subject, { queue: this.#queueGroup }, (msg) => void this.#answer(subject, handler, msg));
  }

  /**
   * Requests share one reply subscription (`<inbox>.<token>`), matched to their callers here:
   * nats.js's own request allocates an Error with a stack trace per call even on success, a
   * measurable share of a step's CPU.
   */
  async request(subject: string, payload: Uint8Array, options: RequestOptions = {}): Promise<Uint8Array> {
    this.#assertOpen();
    this.#assertFits(subject, payload);
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${timeoutMs}`);
    const inbox = this.#replyInbox();
    const token = (this.#nextToken++).toString(36);
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#replies.delete(token);
        reject(new TransportError(`request to ${subject} timed out after ${timeoutMs} ms`, 'timeout'));
      }, timeoutMs);
      this.#replies.set(token, { subject, resolve, reject, timer });
      try {
        this.#nc.publish(subject, payload, { reply: `${inbox}.${token}` });
      } catch (error) {
        clearTimeout(timer);
        this.#replies.delete(token);
        reject(toTransportError(error, `request to ${subject}`, this.#connectionGone()));
      }
    });
  }

  /** The subject replies come back on, subscribed on first use. */
  #replyInbox(): string {
    if (this.#inbox) return this.#inbox;
    const inbox = createInbox();
    this.#subscribe(`${inbox}.*`, {}, (msg) => this.#onReply(inbox, msg));
    this.#inbox = inbox;
    return inbox;
  }

  #onReply(inbox: string, msg: Msg): void {
    const token = msg.subject.slice(inbox.length + 1);
    const pending = this.#replies.get(token);
    if (!pending) return; // timed out already
    this.#replies.delete(token);
    clearTimeout(pending.timer);
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      pending.reject(new TransportError(`request to ${pending.subject} failed: no responders`, 'no-responders'));
      return;
    }
    const code = msg.headers?.get(ERROR_CODE_HEADER);
    if (code) {
      const message = msg.headers?.get(ERROR_HEADER) || `the handler for ${pending.subject} failed`;
      pending.reject(new TransportError(message, REPLY_CODES.has(code) ? (code as TransportError['code']) : 'failed'));
      return;
    }
    pending.resolve(msg.data);
  }

  publish(subject: string, payload: Uint8Array): void {
    this.#assertOpen();
    this.#assertFits(subject, payload);
    try {
      this.#nc.publish(subject, payload);
    } catch (error) {
      throw toTransportError(error, `publish to ${subject}`, this.#connectionGone());
    }
  }

  subscribe(subject: string, handler: (payload: Uint8Array) => void): Subscription {
    this.#assertOpen();
    return this.#subscribe(subject, {}, (msg) => {
      try {
        handler(msg.data);
      } catch (error) {
        this.#onError(error, subject);
      }
    });
  }

  /**
   * Creates the work-queue stream (file storage, the queue's subject and duplicate window) or
   * brings an existing one's duplicate window up to date. Safe to call from many processes at
   * once. A stream of that name with other subjects is refused (`failed`), not changed: it
   * belongs to another installation, whose tasks would be lost.
   */
  async ensureTaskQueue(queue: TaskQueue): Promise<void> {
    this.#assertOpen();
    const { stream, subject, duplicateWindowMs } = resolveTaskQueue(queue);
    const { jsm } = await this.#js();
    const wanted = {
      subjects: [subject],
      duplicate_window: nanos(duplicateWindowMs),
    };
    try {
      await jsm.streams.add({ name: stream, retention: RetentionPolicy.Workqueue, storage: StorageType.File, ...wanted });
      return;
    } catch (error) {
      // Another process created it first, or it exists with other settings.
      if (!(error instanceof JetStreamApiError && error.code === STREAM_NAME_IN_USE)) {
        throw toTransportError(error, `creating task queue ${stream}`, this.#connectionGone());
      }
    }
    try {
      const { config } = await jsm.streams.info(stream);
      if (config.retention !== RetentionPolicy.Workqueue) {
        throw new TransportError(`stream ${stream} exists with retention "${config.retention}"; a task queue needs "workqueue"`, 'failed');
      }
      const subjects = config.subjects ?? [];
      if (subjects.length !== 1 || subjects[0] !== subject) {
        throw new TransportError(
          `stream ${stream} exists with subjects ${JSON.stringify(subjects)}, not ["${subject}"]: another installation (or prefix) uses it; give this one a prefix of its own rather than take the stream over`,
          'failed',
        );
      }
      if (config.duplicate_window !== wanted.duplicate_window) await jsm.streams.update(stream, { ...config, ...wanted });
    } catch (error) {
      throw toTransportError(error, `updating task queue ${stream}`, this.#connectionGone());
    }
  }

  /** Publishes with `msgID`; a duplicate inside the window is acknowledged by JetStream and dropped. */
  async publishTask(queue: TaskQueue, payload: Uint8Array, messageId: string): Promise<void> {
    this.#assertOpen();
    const { subject } = resolveTaskQueue(queue);
    this.#assertFits(subject, payload);
    if (messageId.length === 0) throw new RangeError('a task needs a non-empty messageId');
    const { js } = await this.#js();
    try {
      await js.publish(subject, payload, { msgID: messageId });
    } catch (error) {
      const noStream = toTransportError(error, '').code === 'no-responders';
      if (noStream) {
        // nats.js reports this as "jetstream is not enabled"; the usual cause is a missing stream.
        throw new TransportError(`no stream stores ${subject}; call ensureTaskQueue first`, 'no-responders', { cause: error });
      }
      throw toTransportError(error, `publishing a task to ${subject}`, this.#connectionGone());
    }
  }

  consumeTasks(queue: TaskQueue, options: ConsumeOptions): TaskConsumer {
    this.#assertOpen();
    const resolvedQueue = resolveTaskQueue(queue);
    const resolvedOptions = resolveConsumeOptions(options);
    const consumer = new NatsTaskConsumer({
      jetstream: () => this.#js(),
      queue: resolvedQueue,
      options: resolvedOptions,
      pullExpiresMs: this.#pullExpiresMs,
      isClosed: () => this.#connectionGone(),
      onError: this.#onError,
      onStop: (stopped) => this.#consumers.delete(stopped),
    });
    this.#consumers.add(consumer);
    return consumer;
  }

  /**
   * Deletes a task queue's stream with every task in it (not part of {@link Transport}: for
   * tests and operators). Deleting a queue that does not exist is not an error.
   */
  async deleteTaskQueue(queue: TaskQueue): Promise<void> {
    this.#assertOpen();
    const { stream } = resolveTaskQueue(queue);
    const { jsm } = await this.#js();
    try {
      await jsm.streams.delete(stream);
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === STREAM_NOT_FOUND) return;
      throw toTransportError(error, `deleting task queue ${stream}`, this.#connectionGone());
    }
  }

  /**
   * Stops consumers and subscriptions made here and rejects pending requests with code
   * `closed`; drains the connection only if {@link NatsTransport.connect} opened it.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#consumers].map((consumer) => consumer.stop()));
    this.#failPending(new TransportError('the transport was closed', 'closed'));
    if (this.#ownsConnection) {
      if (!this.#nc.isClosed()) await this.#nc.drain().catch(() => this.#nc.close());
      return;
    }
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    this.#subscriptions.clear();
  }

  #subscribe(subject: string, options: { queue?: string }, onMessage: (msg: Msg) => void): Subscription {
    let subscription: NatsSubscription;
    try {
      subscription = this.#nc.subscribe(subject, {
        ...options,
        callback: (error, msg) => {
          if (error) this.#onError(error, subject);
          else onMessage(msg);
        },
      });
    } catch (error) {
      throw toTransportError(error, `subscribing to ${subject}`, this.#connectionGone());
    }
    this.#subscriptions.add(subscription);
    return {
      unsubscribe: () => {
        this.#subscriptions.delete(subscription);
        if (!subscription.isClosed()) subscription.unsubscribe();
      },
    };
  }

  async #answer(subject: string, handler: RequestHandler, msg: Msg): Promise<void> {
    let reply: Uint8Array;
    try {
      reply = await handler(msg.data);
      if (!(reply instanceof Uint8Array)) throw new TypeError(`the handler returned ${typeof reply}, not a Uint8Array`);
    } catch (error) {
      this.#onError(error, subject);
      this.#respondError(msg, 'failed', `the handler for ${subject} failed: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    try {
      msg.respond(reply);
    } catch (error) {
      const failure = toTransportError(error, `replying on ${subject}`, this.#connectionGone());
      if (failure.code === 'closed') return;
      this.#respondError(msg, failure.code, `the reply of ${subject} could not be sent: ${failure.message}`);
    }
  }

  #respondError(msg: Msg, code: TransportError['code'], message: string): void {
    const h = headers();
    h.set(ERROR_CODE_HEADER, code);
    // Header values are one line; keep them short.
    h.set(ERROR_HEADER, message.replace(/[\r\n]+/g, ' ').slice(0, 1000));
    try {
      msg.respond(Empty, { headers: h });
    } catch (error) {
      if (!this.#connectionGone()) this.#onError(error, msg.subject);
    }
  }

  #js(): Promise<{ jsm: JetStreamManager; js: JetStreamClient }> {
    this.#jetstream ??= jetstreamManager(this.#nc).then(
      (jsm) => ({ jsm, js: jsm.jetstream() }),
      (error: unknown) => {
        this.#jetstream = undefined;
        throw toTransportError(error, 'opening JetStream', this.#connectionGone());
      },
    );
    return this.#jetstream;
  }

  #assertOpen(): void {
    if (this.#closed) throw new TransportError('the transport is closed', 'closed');
  }

  #assertFits(subject: string, payload: Uint8Array): void {
    const max = this.#nc.info?.max_payload;
    if (max !== undefined && payload.byteLength > max) {
      throw new TransportError(
        `payload for ${subject} (${payload.byteLength} bytes) exceeds the server max_payload of ${max} bytes`,
        'too-large',
      );
    }
  }

  #connectionGone(): boolean {
    return this.#closed || this.#nc.isClosed() || this.#nc.isDraining();
  }
}

interface PendingReply {
  readonly subject: string;
  readonly resolve: (data: Uint8Array) => void;
  readonly reject: (error: TransportError) => void;
  readonly timer: NodeJS.Timeout;
}
