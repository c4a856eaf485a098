import { defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const nap = defineWorkflow('nap', async (ctx) => {
  const before = await ctx.step('before', () => 'awake');
  await ctx.sleep('200ms');
  return ctx.step('after', () => `${before} again`);
});

describe.each(STACK_KINDS)('an engine observer that throws, on %s', (kind) => {
  let stack: Stack;
  let told = 0;
  beforeAll(async () => {
    // What `ratchet dev`'s live output did on a value it could not print: the append it was told
    // of had committed, and must still be answered, dispatched and timed as one.
    stack = await startStack(kind, {
      observer: () => {
        told += 1;
        throw new Error('the observer broke');
      },
    });
    await stack.startWorker([nap] as never);
  });
  afterAll(() => stack.close());

  it('neither fails the append it was told of nor holds up the job', async () => {
    const started = Date.now();
    const job = await stack.client.start(nap, {});
    await expect(job.result({ timeout: '10s' })).resolves.toBe('awake again');
    // No worker had to take the job over from a task that came back after its ack wait (1.5 s).
    expect(Date.now() - started).toBeLessThan(1500);
    const types = (await stack.store.read(job.jobId)).map((recorded) => recorded.event.type);
    expect(types).toEqual([
      'JobStarted',
      'StepStarted',
      'StepCompleted',
      'TimerStarted',
      'TimerFired',
      'StepStarted',
      'StepCompleted',
      'JobCompleted',
    ]);
    expect(told).toBeGreaterThan(0);
  });
});
