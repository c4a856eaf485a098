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
