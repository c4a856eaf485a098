import { defineWorkflow } from '@ratchet/sdk';
import { replayHistory } from '@ratchet/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../harness/index.ts';

let charged = 0;
const original = defineWorkflow('refund', async (ctx, input: { amount: number }) => {
  const id = await ctx.step('lookup', () => 'order-1');
  await ctx.step('refund', () => {
    charged += 1;
    return input.amount;
  });
  return ctx.step('notify', () => `refunded ${id}`);
});
/** Counts down by continuing as a new job: its log ends with JobContinued. */
const countdown = defineWorkflow('countdown', async (ctx, n: number) => {
  const left = await ctx.step('tick', () => n - 1);
  if (left > 0) return ctx.continueAsNew(left);
  return 'liftoff';
});
// New code that swapped two steps: running jobs would break.
const reordered = defineWorkflow('refund', async (ctx, input: { amount: number }) => {
  await ctx.step('refund', () => input.amount);
  return ctx.step('lookup', () => 'order-1');
});

describe('replaying a recorded history against code', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('pglite+memory');
    await stack.startWorker([original, countdown] as never);
  });
  afterAll(() => stack.close());

  it('says deterministic for the code that wrote it, without running any step again', async () => {
    const job = await stack.client.start(original, { amount: 5 });
    await job.result({ timeout: '10s' });
    const before = charged;
    const events = await stack.store.read(job.jobId);
    await expect(replayHistory(original, events)).resolves.toEqual({ deterministic: true, replayed: 3 });
    expect(charged).toBe(before);
    // An export (JSON) replays the same.
    const exported = JSON.parse(JSON.stringify({ events }));
    await expect(replayHistory(original, exported.events)).resolves.toMatchObject({ deterministic: true });
  });

  it('shows the first divergence: position, the recorded call, the call made, and where', async () => {
    const job = await stack.client.start(original, { amount: 7 });
    await job.result({ timeout: '10s' });
    const report = await replayHistory(reordered, await stack.store.read(job.jobId));
    expect(report).toMatchObject({
      deterministic: false,
      position: 0,
      expected: { kind: 'step', name: 'lookup' },
      actual: { kind: 'step', name: 'refund' },
      location: expect.stringContaining('replay.test.ts'),
    });
  });

  it('calls code that throws or returns before the recorded calls are made a divergence, naming what it threw and where', async () => {
    const job = await stack.client.start(original, { amount: 9 });
    await job.result({ timeout: '10s' });
    const events = await stack.store.read(job.jobId);
    const broken = defineWorkflow('refund', async (ctx, input: { amount: number }) => {
      await ctx.step('lookup', () => 'order-1');
      const config = undefined as unknown as { limit: number };
      if (input.amount > config.limit) return 'too much';
      return 'unreachable';
    });
    expect(await replayHistory(broken, events)).toMatchObject({
      deterministic: false,
      position: 1,
      expected: { kind: 'step', name: 'refund' },
      actual: { kind: 'throw', name: expect.stringMatching(/^TypeError: Cannot read properties of undefined/) },
      message: expect.stringContaining('but the code threw TypeError'),
      location: expect.stringContaining('replay.test.ts'),
    });
    const early = defineWorkflow('refund', async (ctx) => ctx.step('lookup', () => 'order-1'));
    expect(await replayHistory(early, events)).toMatchObject({
      deterministic: false,
      position: 1,
      expected: { kind: 'step', name: 'refund' },
      actual: { kind: 'return' },
      message: expect.stringContaining('but the code returned'),
    });
  });

  it('calls an ending opposite to the recorded one a divergence', async () => {
    const job = await stack.client.start(original, { amount: 3 });
    await job.result({ timeout: '10s' });
    const events = await stack.store.read(job.jobId);
    const failsAtEnd = defineWorkflow('refund', async (ctx, input: { amount: number }) => {
      await ctx.step('lookup', () => 'order-1');
      await ctx.step('refund', () => input.amount);
      await ctx.step('notify', () => 'sent');
      throw new Error('refunds are closed');
    });
    expect(await replayHistory(failsAtEnd, events)).toMatchObject({
      deterministic: false,
      position: 3,
      expected: { kind: 'return' },
      actual: { kind: 'throw', name: 'Error: refunds are closed' },
    });
  });

  it('replays a job that continued as new, and calls another ending where it continued a divergence', async () => {
    const job = await stack.client.start(countdown, 2, { jobId: 'countdown-2' });
    expect(await job.result({ timeout: '10s' })).toBe('liftoff');
    const events = await stack.store.read('countdown-2');
    expect(events.at(-1)?.event.type).toBe('JobContinued');
    await expect(replayHistory(countdown, events)).resolves.toEqual({ deterministic: true, replayed: 1 });
    const returns = defineWorkflow('countdown', async (ctx, n: number) => ctx.step('tick', () => n - 1));
    expect(await replayHistory(returns, events)).toMatchObject({
      deterministic: false,
      position: 1,
      expected: { kind: 'continueAsNew' },
      actual: { kind: 'return' },
    });
    // The last job of the chain returned: continuing there is a divergence, named where the code continues.
    const last = (await stack.client.describe('countdown-2')).continuedAs as string;
    const lastEvents = await stack.store.read(last);
    expect(lastEvents.at(-1)?.event.type).toBe('JobCompleted');
    const continues = defineWorkflow('countdown', async (ctx, n: number) => {
      await ctx.step('tick', () => n - 1);
      return ctx.continueAsNew(n);
    });
    expect(await replayHistory(continues, lastEvents)).toMatchObject({
      deterministic: false,
      position: 1,
      expected: { kind: 'return' },
      actual: { kind: 'continueAsNew' },
      location: expect.stringContaining('replay.test.ts'),
    });
  });
});
