import { defineWorkflow } from '@ratchet/sdk';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

// Counts to `to`, three steps per job, continuing as a new job to keep each history short.
const counter = defineWorkflow('counter', async (ctx, input: { from: number; to: number }) => {
  let n = input.from;
  for (let i = 0; i < 3 && n < input.to; i++) n = await ctx.step(`add-${n}`, () => n + 1);
  if (n < input.to) return ctx.continueAsNew({ from: n, to: input.to });
  return n;
});

// Adds up items two at a time, continuing as a new job after each two; ends when none comes.
const tally = defineWorkflow('tally', async (ctx, input: { total: number }) => {
  await ctx.sleep('300ms'); // the items are all sent meanwhile
  let total = input.total;
  for (let i = 0; i < 2; i++) {
    const item = await ctx.waitForSignal<number>('item', { timeout: '300ms' });
    if (item.timedOut) return total;
    total += item.payload;
  }
  return ctx.continueAsNew({ total });
});

describe.each(STACK_KINDS)('continue as new on %s', (kind) => {
  let stack: Stack;
  /** What the worker logged at warn and above. */
  const warnings: string[] = [];
  beforeAll(async () => {
    stack = await startStack(kind);
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    await stack.startWorker([counter, tally] as never, { logger });
  });
  afterAll(() => stack.close());

  it('ends each job and starts its successor together, and result() follows the chain', async () => {
    const job = await stack.client.start(counter, { from: 0, to: 10 });
    await expect(job.result({ timeout: '15s' })).resolves.toBe(10);
    const first = await job.status();
    expect(first).toMatchObject({ status: 'continued', continuedAs: expect.any(String) });
    const log = (await stack.store.read(job.jobId)).map((e) => e.event);
    expect(log.map((e) => e.type)).toEqual([
      'JobStarted',
      'StepStarted',
      'StepCompleted',
      'StepStarted',
      'StepCompleted',
      'StepStarted',
      'StepCompleted',
      'JobContinued',
    ]);
    const next = await stack.store.read(first.continuedAs as string);
    expect(next[0]?.event).toMatchObject({ type: 'JobStarted', workflow: 'counter', input: { from: 3, to: 10 } });
    // The worker settled each continued job's task at once: it did not fail to fold its own end
    // (a JobContinued without the successor's id) and leave the task to come back.
    expect(warnings).toEqual([]);
  });

  it('hands the signals a job received and did not take to its successor, in order', async () => {
    const job = await stack.client.start(tally, { total: 0 });
    for (const item of [1, 2, 4, 8, 16]) await stack.client.signal(job.jobId, 'item', item);
    await expect(job.result({ timeout: '15s' })).resolves.toBe(31);
    const first = await stack.client.describe(job.jobId);
    const second = await stack.client.describe(first.continuedAs as string);
    expect(second.signals.map((s) => [s.payload, s.takenBy])).toEqual([
      [4, 1],
      [8, 2],
      [16, undefined],
    ]);
    expect(second.signals.map((s) => s.signalId)).toEqual(first.signals.slice(2).map((s) => s.signalId));
  });

  it('passes a signal or a cancellation sent to a job that continued on to the run that carries it on', async () => {
    const job = await stack.client.start(tally, { total: 0 });
    for (const item of [1, 2]) await stack.client.signal(job.jobId, 'item', item);
    // The first run takes both and continues; a signal to its id now reaches the second run.
    await expect.poll(async () => (await job.status()).status, { timeout: 10_000 }).toBe('continued');
    const successor = (await job.status()).continuedAs as string;
    const sent = await stack.client.signal(job.jobId, 'item', 40);
    expect(sent.jobId).toBe(successor);
    await expect(job.result({ timeout: '15s' })).resolves.toBe(43);
    expect((await stack.client.describe(successor)).signals.map((s) => s.signalId)).toContain(sent.signalId);

    const again = await stack.client.start(tally, { total: 0 });
    for (const item of [1, 2]) await stack.client.signal(again.jobId, 'item', item);
    await expect.poll(async () => (await again.status()).status, { timeout: 10_000 }).toBe('continued');
    const cancelled = await stack.client.terminate(again.jobId, 'no more');
    expect(cancelled).toMatchObject({ jobId: (await again.status()).continuedAs, status: 'cancelled' });
    // The chain's end is finished now: a signal to its first id is refused, naming the run it reached.
    await expect(stack.client.signal(again.jobId, 'item', 1)).rejects.toMatchObject({
      name: 'JobFinishedError',
      message: expect.stringContaining(`cannot signal job ${cancelled.jobId}`),
    });
  });
});
