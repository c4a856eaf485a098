import { defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

// Counts to `to`, three steps per job, continuing as a new job to keep each history short.
const counter = defineWorkflow('counter', async (ctx, input: { from: number; to: number }) => {
  let n = input.from;
  for (let i = 0; i < 3 && n < input.to; i++) n = await ctx.step(`add-${n}`, () => n + 1);
  if (n < input.to) return ctx.continueAsNew({ from: n, to: input.to });
  return n;
});

describe.each(STACK_KINDS)('continue as new on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
    await stack.startWorker([counter] as never);
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
  });
});
