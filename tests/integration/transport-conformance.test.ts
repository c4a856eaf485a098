import {
  MemoryTransport,
  NatsTransport,
  type TaskConsumer,
  type TaskDelivery,
  type TaskQueue,
  type Transport,
  TransportError,
} from '@ratchet/sdk/transport';
import { describe, expect, test } from 'vitest';
import { testNats } from '../harness/index.ts';

/**
 * One suite, run against every Transport: the in-process one must behave like NATS, so that what
 * works under `ratchet dev` works in production. Waits are short and always bounded.
 */

/** The ack wait of most task tests: short, so that redeliveries happen within the test. */
const ACK_WAIT_MS = 400;
/** Long enough for any redelivery the server owes us (nats-server checks ack waits on a timer). */
const REDELIVERY_BOUND_MS = ACK_WAIT_MS * 8;

interface Candidate {
  readonly transport: Transport & { deleteTaskQueue(queue: TaskQueue): Promise<void> };
  /** The largest payload the transport accepts. */
  readonly maxPayload: number;
}

type Open = (onError: (error: unknown, subject: string) => void) => Promise<Candidate>;

const nats = testNats();
let serial = 0;

transportConformance('MemoryTransport', async (onError) => ({ transport: new MemoryTransport({ onError }), maxPayload: 1024 * 1024 }));

transportConformance('NatsTransport', async (onError) => {
  const transport = await NatsTransport.connect({ servers: nats.url, name: 'transport-conformance', onError });
  return { transport, maxPayload: transport.connection.info?.max_payload ?? 1024 * 1024 };
});

describe('NatsTransport on a connection it was given', () => {
  test('close() leaves the connection open and ends only what this transport started', async () => {
    const owner = await NatsTransport.connect({ servers: nats.url, name: 'transport-conformance-owner' });
    try {
      const borrowed = new NatsTransport({ connection: owner.connection, onError: () => {} });
      const subject = `${nats.prefix}.borrowed`;
      const seen: string[] = [];
      borrowed.subscribe(subject, (payload) => seen.push(read(payload)));
      owner.serve(`${subject}.echo`, async (payload) => payload);
      await borrowed.close();
      expect(owner.connection.isClosed()).toBe(false);
      owner.publish(subject, text('after close'));
      expect(read(await owner.request(`${subject}.echo`, text('still served')))).toBe('still served');
      await sleep(50);
      expect(seen).toEqual([]);
    } finally {
      await owner.close();
    }
    expect(owner.connection.isClosed()).toBe(true);
  });
});

/** What every test gets: a fresh transport, subjects and streams of its own, and helpers. */
interface Fixture extends Candidate {
  /** A subject prefix no other test uses. */
  readonly base: string;
  /** Subjects whose handler errors the transport reported. */
  readonly reported: string[];
  /** Creates a task queue of this test's own (deleted afterwards). */
  taskQueue(duplicateWindowMs?: number): Promise<TaskQueue>;
  /** Starts consuming in the background (stopped afterwards). */
  consume(queue: TaskQueue, options?: { ackWaitMs?: number; maxInFlight?: number; consumer?: string; autoAck?: boolean }): Collected;
  /** A stream name of this test's own. */
  readonly stream: string;
}

function transportConformance(name: string, open: Open): void {
  const it = test.extend<{ fx: Fixture }>({
    // biome-ignore lint/correctness/noEmptyPattern: vitest fixtures take a destructured context
    fx: async ({}, use) => {
      serial += 1;
      const base = `${nats.prefix}.s${serial}`;
      const stream = `${nats.prefix.toUpperCase()}_S${serial}`;
      const reported: string[] = [];
      const candidate = await open((_error, subject) => reported.push(subject));
      const { transport } = candidate;
      const queues: TaskQueue[] = [];
      const consumers: TaskConsumer[] = [];
      await use({
        ...candidate,
        base,
        stream,
        reported,
        async taskQueue(duplicateWindowMs) {
          const queue = {
            stream: `${stream}_TASKS`,
            subject: `${base}.tasks`,
            ...(duplicateWindowMs === undefined ? {} : { duplicateWindowMs }),
          };
          queues.push(queue);
          await transport.ensureTaskQueue(queue);
          return queue;
        },
        consume(queue, options = {}) {
          const consumer = transport.consumeTasks(queue, {
            consumer: options.consumer ?? 'workers',
            ackWaitMs: options.ackWaitMs ?? ACK_WAIT_MS,
            maxInFlight: options.maxInFlight ?? 10,
          });
          consumers.push(consumer);
          return collect(consumer, options.autoAck ?? false);
        },
      });
      await Promise.all(consumers.map((consumer) => consumer.stop()));
      for (const queue of queues) await transport.deleteTaskQueue(queue);
      await transport.close();
    },
  });

  // Tests run a few at a time: most of their time is spent waiting for ack waits to run out.
  describe.concurrent(`${name} meets the Transport contract`, () => {
    describe('request/reply', () => {
      it('a request gets the reply of the handler serving its subject', async ({ fx }) => {
        fx.transport.serve(`${fx.base}.echo`, async (payload) => text(`echo:${read(payload)}`));
        expect(read(await fx.transport.request(`${fx.base}.echo`, text('hi')))).toBe('echo:hi');
      });

      it('concurrent requests each get their own reply', async ({ fx }) => {
        fx.transport.serve(`${fx.base}.echo`, async (payload) => {
          await sleep(Math.random() * 20);
          return text(`echo:${read(payload)}`);
        });
        const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => fx.transport.request(`${fx.base}.echo`, text(`${i}`))));
        expect(replies.map(read)).toEqual(Array.from({ length: 50 }, (_, i) => `echo:${i}`));
      });

      it('replicas serving one subject share the requests', async ({ fx }) => {
        let first = 0;
        let second = 0;
        fx.transport.serve(`${fx.base}.work`, async () => text(`${++first}`));
        fx.transport.serve(`${fx.base}.work`, async () => text(`${++second}`));
        for (let i = 0; i < 20; i++) await fx.transport.request(`${fx.base}.work`, text('x'));
        expect(first + second).toBe(20);
        expect(first).toBeGreaterThan(0);
        expect(second).toBeGreaterThan(0);
      });

      it('a request nobody serves fails fast with no-responders', async ({ fx }) => {
        const started = Date.now();
        const error = await rejection(fx.transport.request(`${fx.base}.nobody`, text('x'), { timeoutMs: 5000 }));
        expect(error).toBeInstanceOf(TransportError);
        expect((error as TransportError).code).toBe('no-responders');
        expect(Date.now() - started).toBeLessThan(1000);
      });

      it('a handler slower than the timeout makes the request fail with timeout', async ({ fx }) => {
        fx.transport.serve(`${fx.base}.slow`, async () => {
          await sleep(1000);
          return text('late');
        });
        const started = Date.now();
        const error = await rejection(fx.transport.request(`${fx.base}.slow`, text('x'), { timeoutMs: 200 }));
        expect((error as TransportError).code).toBe('timeout');
        expect(Date.now() - started).toBeGreaterThanOrEqual(150);
        expect(Date.now() - started).toBeLessThan(900);
      });

      it('a handler that throws fails the request at once with failed, and is reported', async ({ fx }) => {
        fx.transport.serve(`${fx.base}.broken`, async () => {
          throw new Error('handler bug');
        });
        const started = Date.now();
        const error = await rejection(fx.transport.request(`${fx.base}.broken`, text('x'), { timeoutMs: 5000 }));
        expect((error as TransportError).code).toBe('failed');
        expect((error as TransportError).message).toContain('handler bug');
        expect(Date.now() - started).toBeLessThan(1000);
        expect(fx.reported).toContain(`${fx.base}.broken`);
      });

      it('a payload over the maximum is refused with too-large', async ({ fx }) => {
        fx.transport.serve(`${fx.base}.echo`, async (payload) => payload);
        const tooLarge = new Uint8Array(fx.maxPayload + 1);
        expect(((await rejection(fx.transport.request(`${fx.base}.echo`, tooLarge))) as TransportError).code).toBe('too-large');
        expect(() => fx.transport.publish(`${fx.base}.note`, tooLarge)).toThrow(expect.objectContaining({ code: 'too-large' }));
        const queue = await fx.taskQueue();
        expect(((await rejection(fx.transport.publishTask(queue, tooLarge, 'big'))) as TransportError).code).toBe('too-large');
      });

      it('close() fails pending requests with closed, and later calls too', async ({ fx }) => {
        fx.transport.serve(`${fx.base}.slow`, async () => {
          await sleep(2000);
          return text('late');
        });
        const pending = rejection(fx.transport.request(`${fx.base}.slow`, text('x'), { timeoutMs: 5000 }));
        await sleep(50);
        const started = Date.now();
        await fx.transport.close();
        expect(((await pending) as TransportError).code).toBe('closed');
        expect(Date.now() - started).toBeLessThan(1000);
        expect(((await rejection(fx.transport.request(`${fx.base}.slow`, text('x')))) as TransportError).code).toBe('closed');
        expect(() => fx.transport.publish(`${fx.base}.note`, text('x'))).toThrow(expect.objectContaining({ code: 'closed' }));
      });
    });

    describe('pub/sub', () => {
      it('a notification reaches every subscriber, and unsubscribe stops it', async ({ fx }) => {
        const first: string[] = [];
        const second: string[] = [];
        const subscription = fx.transport.subscribe(`${fx.base}.note`, (payload) => first.push(read(payload)));
        fx.transport.subscribe(`${fx.base}.note`, (payload) => second.push(read(payload)));
        fx.transport.publish(`${fx.base}.note`, text('one'));
        await until(() => first.length === 1 && second.length === 1, 'both subscribers to get "one"');
        subscription.unsubscribe();
        fx.transport.publish(`${fx.base}.note`, text('two'));
        await until(() => second.length === 2, 'the remaining subscriber to get "two"');
        await sleep(100);
        expect(first).toEqual(['one']);
        expect(second).toEqual(['one', 'two']);
      });

      it('wildcard subscriptions match as on NATS', async ({ fx }) => {
        const one: string[] = [];
        const many: string[] = [];
        fx.transport.subscribe(`${fx.base}.jobs.*.finished`, (payload) => one.push(read(payload)));
        fx.transport.subscribe(`${fx.base}.jobs.>`, (payload) => many.push(read(payload)));
        fx.transport.publish(`${fx.base}.jobs.a.finished`, text('a'));
        fx.transport.publish(`${fx.base}.jobs.b.started.now`, text('b'));
        await until(() => many.length === 2, 'the > subscriber to get both');
        await sleep(50);
        expect(one).toEqual(['a']);
        expect(many).toEqual(['a', 'b']);
      });

      it('a subscriber that throws keeps its subscription', async ({ fx }) => {
        const seen: string[] = [];
        fx.transport.subscribe(`${fx.base}.note`, (payload) => {
          seen.push(read(payload));
          throw new Error('subscriber bug');
        });
        fx.transport.publish(`${fx.base}.note`, text('one'));
        fx.transport.publish(`${fx.base}.note`, text('two'));
        await until(() => seen.length === 2, 'both notifications');
        expect(fx.reported).toEqual([`${fx.base}.note`, `${fx.base}.note`]);
      });
    });

    describe('task queues', () => {
      it('ensureTaskQueue is idempotent, also when called concurrently, and applies a new duplicate window', async ({ fx }) => {
        const queue = await fx.taskQueue();
        await Promise.all(Array.from({ length: 5 }, () => fx.transport.ensureTaskQueue(queue)));
        await fx.transport.ensureTaskQueue({ ...queue, duplicateWindowMs: 60_000 });
        await fx.transport.publishTask(queue, text('t'), 'id-1');
        const worker = fx.consume(queue, { autoAck: true });
        await until(() => worker.tasks.length === 1, 'the task');
      });

      it('ensureTaskQueue refuses a stream of that name with another subject, and leaves it and its tasks alone', async ({ fx }) => {
        const queue = await fx.taskQueue();
        await fx.transport.publishTask(queue, text('theirs'), 'id-1');
        const other = { stream: queue.stream, subject: `${fx.base}.other` };
        const error = (await rejection(fx.transport.ensureTaskQueue(other))) as TransportError;
        expect(error).toBeInstanceOf(TransportError);
        expect(error.code).toBe('failed');
        expect(error.message).toContain(`stream ${queue.stream} exists with subjects ["${queue.subject}"], not ["${other.subject}"]`);
        expect(((await rejection(fx.transport.publishTask(other, text('t'), 'id-2'))) as TransportError).code).toBe('no-responders');
        await fx.transport.publishTask(queue, text('theirs too'), 'id-3');
        const worker = fx.consume(queue, { autoAck: true });
        await until(() => worker.tasks.length === 2, 'both tasks');
        expect(worker.tasks.map((task) => read(task.data))).toEqual(['theirs', 'theirs too']);
      });

      it('publishing to a queue nobody created fails with no-responders', async ({ fx }) => {
        const queue = { stream: `${fx.stream}_NONE`, subject: `${fx.base}.none` };
        expect(((await rejection(fx.transport.publishTask(queue, text('t'), 'id'))) as TransportError).code).toBe('no-responders');
      });

      it('tasks published before any consumer wait in the queue', async ({ fx }) => {
        const queue = await fx.taskQueue();
        for (const id of ['a', 'b', 'c']) await fx.transport.publishTask(queue, text(id), id);
        const worker = fx.consume(queue, { autoAck: true });
        await until(() => worker.tasks.length === 3, 'three tasks');
        expect(worker.tasks.map((task) => read(task.data))).toEqual(['a', 'b', 'c']);
        expect(worker.tasks.map((task) => task.deliveryCount)).toEqual([1, 1, 1]);
      });

      it('each task goes to exactly one of two consumers sharing a name', async ({ fx }) => {
        const queue = await fx.taskQueue();
        const one = fx.consume(queue, { maxInFlight: 5, autoAck: true });
        const two = fx.consume(queue, { maxInFlight: 5, autoAck: true });
        const ids = Array.from({ length: 30 }, (_, i) => `task-${i}`);
        await Promise.all(ids.map((id) => fx.transport.publishTask(queue, text(id), id)));
        await until(() => one.tasks.length + two.tasks.length >= ids.length, 'every task');
        await sleep(ACK_WAIT_MS * 2);
        const received = [...one.tasks, ...two.tasks].map((task) => read(task.data));
        expect(received.sort()).toEqual([...ids].sort());
      });

      it('a task whose messageId repeats inside the duplicate window is dropped', async ({ fx }) => {
        const queue = await fx.taskQueue();
        await fx.transport.publishTask(queue, text('first'), 'same-id');
        await fx.transport.publishTask(queue, text('second'), 'same-id');
        await fx.transport.publishTask(queue, text('other'), 'other-id');
        const worker = fx.consume(queue, { autoAck: true });
        await until(() => worker.tasks.length === 2, 'two tasks');
        await sleep(200);
        expect(worker.tasks.map((task) => read(task.data))).toEqual(['first', 'other']);
      });

      it('an unacknowledged task is delivered again after the ack wait, with deliveryCount 2', async ({ fx }) => {
        const queue = await fx.taskQueue();
        const worker = fx.consume(queue, { maxInFlight: 1 });
        await fx.transport.publishTask(queue, text('t'), 'id');
        await until(() => worker.tasks.length === 1, 'the first delivery');
        const first = Date.now();
        await until(() => worker.tasks.length === 2, 'the redelivery', REDELIVERY_BOUND_MS);
        expect(Date.now() - first).toBeGreaterThanOrEqual(ACK_WAIT_MS * 0.75);
        expect(worker.tasks.map((task) => task.deliveryCount)).toEqual([1, 2]);
        expect(read(at(worker.tasks, 1).data)).toBe('t');
        at(worker.tasks, 1).ack();
      });

      it('working() keeps a task from redelivery past the ack wait', async ({ fx }) => {
        const queue = await fx.taskQueue();
        const worker = fx.consume(queue, { maxInFlight: 2 });
        await fx.transport.publishTask(queue, text('t'), 'id');
        await until(() => worker.tasks.length === 1, 'the delivery');
        const task = at(worker.tasks, 0);
        const heartbeat = setInterval(() => task.working(), ACK_WAIT_MS / 4);
        try {
          await sleep(ACK_WAIT_MS * 4);
        } finally {
          clearInterval(heartbeat);
        }
        expect(worker.tasks).toHaveLength(1);
        task.ack();
        await sleep(ACK_WAIT_MS * 2);
        expect(worker.tasks).toHaveLength(1);
      });

      it('nak(delay) delivers the task again after the delay; nak() at once', async ({ fx }) => {
        const queue = await fx.taskQueue();
        const worker = fx.consume(queue, { maxInFlight: 1, ackWaitMs: 5000 });
        await fx.transport.publishTask(queue, text('t'), 'id');
        await until(() => worker.tasks.length === 1, 'the first delivery');
        const nakedAt = Date.now();
        at(worker.tasks, 0).nak(500);
        await until(() => worker.tasks.length === 2, 'the delayed redelivery', 3000);
        expect(Date.now() - nakedAt).toBeGreaterThanOrEqual(400);
        expect(at(worker.tasks, 1).deliveryCount).toBe(2);
        const again = Date.now();
        at(worker.tasks, 1).nak();
        await until(() => worker.tasks.length === 3, 'the immediate redelivery', 3000);
        expect(Date.now() - again).toBeLessThan(1000);
        expect(at(worker.tasks, 2).deliveryCount).toBe(3);
        at(worker.tasks, 2).ack();
      });

      it('an acknowledged task is gone for good', async ({ fx }) => {
        const queue = await fx.taskQueue();
        const worker = fx.consume(queue);
        await fx.transport.publishTask(queue, text('t'), 'id');
        await until(() => worker.tasks.length === 1, 'the delivery');
        at(worker.tasks, 0).ack();
        at(worker.tasks, 0).ack(); // a second ack is harmless
        await sleep(ACK_WAIT_MS * 3);
        expect(worker.tasks).toHaveLength(1);
      });

      it('a consumer never holds more than maxInFlight unacknowledged tasks', async ({ fx }) => {
        const queue = await fx.taskQueue();
        const worker = fx.consume(queue, { maxInFlight: 2, ackWaitMs: 10_000 });
        for (let i = 0; i < 5; i++) await fx.transport.publishTask(queue, text(`t${i}`), `id-${i}`);
        await until(() => worker.tasks.length === 2, 'two deliveries');
        await sleep(500);
        expect(worker.tasks).toHaveLength(2);
        at(worker.tasks, 0).ack();
        await until(() => worker.tasks.length === 3, 'a third delivery once one is acked');
        await sleep(300);
        expect(worker.tasks).toHaveLength(3);
        at(worker.tasks, 1).nak();
        await until(() => worker.tasks.length === 4, 'a fourth delivery once one is nak-ed');
        for (const task of worker.tasks) task.ack();
        await until(() => worker.tasks.length === 6, 'the rest once all are acked');
        for (const task of worker.tasks) task.ack();
      });

      it('stop() ends the for-await loop promptly', async ({ fx }) => {
        const queue = await fx.taskQueue();
        const worker = fx.consume(queue);
        await sleep(100);
        const started = Date.now();
        await worker.consumer.stop();
        await within(worker.ended, 1000, 'the loop to end');
        expect(Date.now() - started).toBeLessThan(1000);
      });

      it('a task left unacknowledged by a stopped consumer goes to another consumer', async ({ fx }) => {
        const queue = await fx.taskQueue();
        const first = fx.consume(queue, { maxInFlight: 1 });
        await fx.transport.publishTask(queue, text('t'), 'id');
        await until(() => first.tasks.length === 1, 'the first delivery');
        await first.consumer.stop();
        const second = fx.consume(queue, { autoAck: true });
        await until(() => second.tasks.length === 1, 'the redelivery', REDELIVERY_BOUND_MS);
        expect(read(at(second.tasks, 0).data)).toBe('t');
        expect(at(second.tasks, 0).deliveryCount).toBeGreaterThanOrEqual(2);
      });

      it('a task delivered before stop() can still be acknowledged', async ({ fx }) => {
        const queue = await fx.taskQueue();
        const first = fx.consume(queue, { maxInFlight: 1 });
        await fx.transport.publishTask(queue, text('t'), 'id');
        await until(() => first.tasks.length === 1, 'the delivery');
        await first.consumer.stop();
        at(first.tasks, 0).ack();
        const second = fx.consume(queue, { autoAck: true });
        await sleep(ACK_WAIT_MS * 3);
        expect(second.tasks).toHaveLength(0);
      });

      it('a work queue refuses a second consumer name', async ({ fx }) => {
        const queue = await fx.taskQueue();
        const workers = fx.consume(queue, { autoAck: true });
        await fx.transport.publishTask(queue, text('t'), 'id');
        await until(() => workers.tasks.length === 1, 'the delivery');
        const others = fx.consume(queue, { consumer: 'others' });
        const error = await within(rejection(others.ended), 3000, 'the second name to be refused');
        expect((error as TransportError).code).toBe('failed');
      });
    });
  });
}

interface Collected {
  readonly consumer: TaskConsumer;
  readonly tasks: TaskDelivery[];
  /** Settles when the `for await` loop ends (rejects if the iteration failed). */
  readonly ended: Promise<void>;
}

/** Runs the `for await` loop of a consumer in the background, keeping every delivery. */
function collect(consumer: TaskConsumer, autoAck: boolean): Collected {
  const tasks: TaskDelivery[] = [];
  const ended = (async () => {
    for await (const task of consumer) {
      tasks.push(task);
      if (autoAck) task.ack();
    }
  })();
  ended.catch(() => {});
  return { consumer, tasks, ended };
}

async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error a promise rejects with; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** The delivery at `index`; fails the test if there is none. */
function at(tasks: readonly TaskDelivery[], index: number): TaskDelivery {
  const task = tasks[index];
  if (task === undefined) throw new Error(`expected a delivery at index ${index}, have ${tasks.length}`);
  return task;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function text(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

function read(payload: Uint8Array): string {
  return new TextDecoder().decode(payload);
}
