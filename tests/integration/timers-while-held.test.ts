import { defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const runs = new Map<string, number>();

// A durable sleep in parallel with a step that outlasts it.
const race = defineWorkflow('sleep-beside-step', async (ctx, input: { tag: string }) => {
  await Promise.all([
    ctx.sleep('200ms'),
    ctx.step('slow', async () => {
      runs.set(input.tag, (runs.get(input.tag) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      return 'slow-done';
    }),
  ]);
  return ctx.step('after', () => 'done');
});

describe.each(STACK_KINDS)('a timer coming due while a worker holds the job on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
    await stack.startWorker([race] as never, { name: 'a' });
    await stack.startWorker([race] as never, { name: 'b' });
  });
  afterAll(() => stack.close());

  it('fires once the worker lets go, without fencing it off or running the step again', async () => {
    const tag = `race-${kind}`;
    const job = await stack.client.start(race, { tag });
    await expect(job.result({ timeout: '10s' })).resolves.toBe('done');
    expect(runs.get(tag)).toBe(1);
    const events = (await stack.store.read(job.jobId)).map((e) => e.event);
    const types = events.map((e) => e.type);
    expect(types).not.toContain('JobClaimed');
    // The sleep fired after the step completed: the holder was never fenced off.
    expect(types.indexOf('TimerFired')).toBeGreaterThan(types.indexOf('StepCompleted'));
  });
});
