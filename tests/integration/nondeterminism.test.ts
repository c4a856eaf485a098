import { defineWorkflow, JobFailedError } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const original = defineWorkflow('fulfil', async (ctx) => {
  await ctx.step('pack', () => 'packed');
  await ctx.sleep('300ms');
  await ctx.step('label', () => 'labelled');
  return 'shipped';
});

// The same workflow after a deploy that swapped the first two durable calls.
const reordered = defineWorkflow('fulfil', async (ctx) => {
  await ctx.step('label', () => 'labelled');
  await ctx.step('pack', () => 'packed');
  await ctx.sleep('300ms');
  return 'shipped';
});

describe.each(STACK_KINDS)('nondeterminism on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
  });
  afterAll(() => stack.close());

  it('fails a running job with NondeterminismError when new code changes its step order, showing both calls', async () => {
    const before = await stack.startWorker([original] as never);
    const job = await stack.client.start(original, {});
    await expect.poll(async () => (await stack.store.read(job.jobId)).at(-1)?.event.type, { timeout: 10_000 }).toBe('TimerStarted');
    await before.stop();
    await stack.startWorker([reordered] as never);
    const error = (await job.result({ timeout: '10s' }).catch((e: unknown) => e)) as JobFailedError;
    expect(error).toBeInstanceOf(JobFailedError);
    expect(error.failure.name).toBe('NondeterminismError');
    expect(error.failure.message).toContain(
      'nondeterminism at position 0: the log recorded step("pack") but the code called step("label")',
    );
    // The replay ran nothing for real: the only recorded attempt is the original "pack".
    const started = (await stack.store.read(job.jobId)).filter((e) => e.event.type === 'StepStarted');
    expect(started).toHaveLength(1);
  });
});

const charged: string[] = [];
const v1 = defineWorkflow('checkout', async (ctx) => {
  await ctx.step('reserve', () => 'reserved');
  await ctx.sleep('300ms');
  return 'v1';
});
// New code that calls another step first, catches the error, and would charge a card.
const v2 = defineWorkflow('checkout', async (ctx) => {
  try {
    await ctx.step('validate', () => 'ok');
  } catch {
    // Swallowing errors must not let the run go on against the log.
  }
  await ctx.step('charge', () => charged.push('charged'));
  return 'v2';
});

describe.each(STACK_KINDS)('nondeterminism caught by the workflow on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
  });
  afterAll(() => stack.close());

  it('still fails the job, and nothing after the divergence runs', async () => {
    charged.length = 0;
    const before = await stack.startWorker([v1] as never);
    const job = await stack.client.start(v1, {});
    await expect.poll(async () => (await stack.store.read(job.jobId)).at(-1)?.event.type, { timeout: 10_000 }).toBe('TimerStarted');
    await before.stop();
    await stack.startWorker([v2] as never);
    const error = (await job.result({ timeout: '10s' }).catch((e: unknown) => e)) as JobFailedError;
    expect(error.failure).toMatchObject({ name: 'NondeterminismError' });
    expect(charged).toEqual([]);
  });
});
