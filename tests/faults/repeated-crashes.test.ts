import { defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const started: string[] = [];
/** Step bodies of a "killed" worker never return, as after a SIGKILL. */
let frozen = new Set<number>();
let generation = 0;

const slow = defineWorkflow('slow-three', async (ctx) => {
  for (const name of ['one', 'two', 'three']) {
    await ctx.step(name, async ({ attempt }) => {
      const mine = generation;
      started.push(`${name}#${attempt}`);
      await new Promise((resolve) => setTimeout(resolve, 800));
      if (frozen.has(mine)) await new Promise(() => {});
      return name;
    });
  }
  return 'done';
});

describe.each(STACK_KINDS)('workers dying one after another on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
  });
  afterAll(() => stack.close());

  it('leave the job to the next worker each time, until one finishes it', async () => {
    started.length = 0;
    frozen = new Set();
    generation = 0;
    const crash = async (worker: { abandon(): Promise<void> }) => {
      frozen.add(generation++);
      await worker.abandon();
    };
    const a = await stack.startWorker([slow] as never, { name: 'a', ackWaitMs: 600 });
    const job = await stack.client.start(slow, {});
    await expect.poll(() => started.length, { timeout: 5000 }).toBe(1);
    await crash(a);
    const b = await stack.startWorker([slow] as never, { name: 'b', ackWaitMs: 600 });
    await expect.poll(() => started.length, { timeout: 8000 }).toBe(2);
    await crash(b);
    await stack.startWorker([slow] as never, { name: 'c', ackWaitMs: 600 });
    await expect(job.result({ timeout: '15s' })).resolves.toBe('done');
    expect(started).toEqual(['one#1', 'one#2', 'one#3', 'two#1', 'three#1']);
    const lost = (await stack.store.read(job.jobId)).map((e) => e.event).filter((e) => e.type === 'StepFailed');
    expect(lost.map((e) => e.type === 'StepFailed' && [e.attempt, e.failure.name])).toEqual([
      [1, 'WorkerLostError'],
      [2, 'WorkerLostError'],
    ]);
  });
});
