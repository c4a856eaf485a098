import { defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const fanOut = defineWorkflow('fan-out', async (ctx, input: { n: number }) => {
  const results = await Promise.all(Array.from({ length: input.n }, (_, i) => ctx.step(`item-${i}`, async () => i * 2)));
  return results.reduce((sum, x) => sum + x, 0);
});

const race = defineWorkflow('first-wins', async (ctx) => {
  // The slower step comes first: on replay, with both results recorded, the race must still go
  // to the one that finished first.
  const winner = await Promise.race([
    ctx.step('slow', async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return 'slow';
    }),
    ctx.step('fast', async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return 'fast';
    }),
  ]);
  await ctx.sleep('100ms');
  return winner;
});

describe.each(STACK_KINDS)('parallel steps on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
    await stack.startWorker([fanOut, race] as never, { name: 'first' });
  });
  afterAll(() => stack.close());

  it('fans out 1,000 steps in one job', async () => {
    const job = await stack.client.start(fanOut, { n: 1000 });
    await expect(job.result({ timeout: '30s' })).resolves.toBe(999_000);
    const state = await stack.client.describe(job.jobId);
    expect(state.journal).toHaveLength(1000);
    expect(state.journal.every((entry) => entry.kind === 'step' && entry.status === 'completed')).toBe(true);
  });

  it('replays Promise.race the same way on another worker', async () => {
    const job = await stack.client.start(race, {});
    await expect
      .poll(async () => (await stack.store.read(job.jobId)).some((e) => e.event.type === 'TimerStarted'), { timeout: 10_000 })
      .toBe(true);
    // A different worker resumes after the sleep and replays the race from the log.
    await stack.restart();
    await stack.startWorker([race] as never, { name: 'second' });
    const winner = await job.result({ timeout: '10s' });
    expect(winner).toBe('fast');
  });
});
