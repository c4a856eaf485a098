import { Engine } from '@ratchet/engine';
import { defineWorkflow } from '@ratchet/sdk';
import { PostgresEventStore } from '@ratchet/store';
import type { Worker } from '@ratchet/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingEventStore, countingEventStore } from '../bench/counting-event-store.ts';
import { quietLogger, type Stack, startStack } from '../harness/index.ts';

const tenSteps = defineWorkflow('ten-steps', async (ctx) => {
  let total = 0;
  for (let i = 0; i < 10; i++) total += await ctx.step(`s${i}`, () => 1);
  return total;
});

describe('two engines on one Postgres and NATS', () => {
  let stack: Stack;
  let second: Engine;
  let secondStore: PostgresEventStore;
  let worker: Worker;
  beforeAll(async () => {
    stack = await startStack('postgres+nats');
    secondStore = new PostgresEventStore({ url: stack.env.DATABASE_URL as string });
    second = new Engine({ store: secondStore, transport: stack.transport, prefix: stack.prefix, logger: quietLogger() });
    await second.start();
    worker = await stack.startWorker([tenSteps] as never);
  });
  afterAll(async () => {
    await second.stop();
    await secondStore.close();
    await stack.close();
  });

  it('share the commands of every job, each appending on a log the other moved on', async () => {
    const jobs = await Promise.all(Array.from({ length: 20 }, () => stack.client.start(tenSteps, {})));
    await expect(Promise.all(jobs.map((job) => job.result({ timeout: '20s' })))).resolves.toEqual(Array(20).fill(10));
    for (const job of jobs) {
      const started = (await stack.store.read(job.jobId)).filter((e) => e.event.type === 'StepStarted');
      expect(started).toHaveLength(10);
    }
  });

  it('accept an append that reaches one engine a moment before the start it extends is visible there', async () => {
    // A job's first task leaves while its start commits: its worker may append through the
    // other engine before the commit is done. That engine looks again instead of refusing.
    await worker.stop(); // the appends here stand in for a worker's
    const jobId = `early-${Date.now()}`;
    const append = second.execute({
      type: 'AppendEvents',
      jobId,
      expectedSeq: 1,
      epoch: 1,
      events: [{ type: 'JobCompleted', output: 'early', completedAt: Date.now() }],
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await stack.engine.execute({ type: 'StartJob', workflow: 'ten-steps', input: {}, jobId });
    await expect(append).resolves.toMatchObject({ lastSeq: 2 });
    expect((await stack.store.read(jobId)).map((e) => e.event.type)).toEqual(['JobStarted', 'JobCompleted']);
    // A job that never starts is refused after the short look.
    await expect(
      second.execute({ type: 'AppendEvents', jobId: 'never-started', expectedSeq: 1, epoch: 1, events: [] }),
    ).rejects.toMatchObject({ name: 'JobNotFoundError' });
  });

  it('fire a timer one engine started though the other, which claims it, last saw the job before it', async () => {
    // The second engine caches the job as it started it; its sleep is appended through the first.
    const { jobId } = (await second.execute({ type: 'StartJob', workflow: 'ten-steps', input: {} })) as { jobId: string };
    const fireAt = Date.now() + 300;
    await stack.engine.execute({
      type: 'AppendEvents',
      jobId,
      expectedSeq: 1,
      epoch: 1,
      events: [{ type: 'TimerStarted', position: 0, fireAt }],
    });
    // Only the second engine is left to fire it: judged on its cache, which has no such timer, it
    // did nothing, and held the timer's claim for the lease (30 s) — or for good, claiming it again.
    await stack.engine.stop();
    await expect
      .poll(async () => (await stack.store.read(jobId)).map((e) => e.event.type), { timeout: 5_000 })
      .toEqual(['JobStarted', 'TimerStarted', 'TimerFired']);
  });
});

describe('two engines and a worker that keeps to one of them for a job', () => {
  let stack: Stack;
  let second: Engine;
  let secondStore: PostgresEventStore;
  /** Each engine's store, counting the log reads it made to bring its cached fold of a job up to date. */
  let first: CountingEventStore;
  let secondCounted: CountingEventStore;
  const reads = (store: CountingEventStore) => (store.counts.calls.get('read') ?? 0) + (store.counts.calls.get('readLatest') ?? 0);
  beforeAll(async () => {
    stack = await startStack('postgres+nats');
    await stack.engine.stop();
    first = countingEventStore(stack.store);
    stack.engine = new Engine({
      store: first.store,
      transport: stack.transport,
      prefix: stack.prefix,
      logger: quietLogger(),
    });
    await stack.engine.start();
    secondStore = new PostgresEventStore({ url: stack.env.DATABASE_URL as string });
    secondCounted = countingEventStore(secondStore);
    second = new Engine({ store: secondCounted.store, transport: stack.transport, prefix: stack.prefix, logger: quietLogger() });
    await second.start();
    await stack.startWorker([tenSteps] as never);
  });
  afterAll(async () => {
    await second.stop();
    await secondStore.close();
    await stack.close();
  });

  it('sends a job’s appends to the engine that carried out its last one, whose cache is current', async () => {
    const jobs = [];
    for (let i = 0; i < 10; i++) jobs.push(await stack.client.start(tenSteps, {}));
    await expect(Promise.all(jobs.map((job) => job.result({ timeout: '20s' })))).resolves.toEqual(Array(10).fill(10));
    // Eleven appends a job. Sent to either engine as it came, about half of them reached the
    // engine that had not carried out the one before, which read the log's tail first; sent to
    // the last one's engine, only a job's first append can (its start went through the other).
    expect(reads(first) + reads(secondCounted)).toBeLessThanOrEqual(2 * jobs.length);
  });
});
