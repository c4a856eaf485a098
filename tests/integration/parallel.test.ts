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

// The signal wins the race; the day-long sleep that lost it is left pending.
const signalOrDay = defineWorkflow('signal-or-day', async (ctx) => {
  const first = await Promise.race([
    ctx.waitForSignal<string>('go').then((signal) => (signal.timedOut ? 'timed out' : signal.payload)),
    ctx.sleep('1d').then(() => 'a day passed'),
  ]);
  await ctx.sleep('100ms');
  return first;
});

describe.each(STACK_KINDS)('parallel steps on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
    await stack.startWorker([fanOut, race, signalOrDay] as never, { name: 'first' });
  });
  afterAll(() => stack.close());

  it('fans out 1,000 steps in one job', async () => {
    const job = await stack.client.start(fanOut, { n: 1000 });
    await expect(job.result({ timeout: '30s' })).resolves.toBe(999_000);
    const state = await stack.client.describe(job.jobId);
    expect(state.journal).toHaveLength(1000);
    expect(state.journal.every((entry) => entry.kind === 'step' && entry.status === 'completed')).toBe(true);
  });

  it('finishes a job after a race it replays, without waiting for the sleep that lost it', async () => {
    const job = await stack.client.start(signalOrDay, {});
    const types = async () => (await stack.store.read(job.jobId)).map((e) => e.event);
    await expect.poll(async () => (await types()).some((e) => e.type === 'TimerStarted'), { timeout: 10_000 }).toBe(true);
    await stack.client.signal(job.jobId, 'go', 'signalled');
    // The 100 ms sleep after the race fires; its run replays the race and must not park on the
    // losing sleep's day before the workflow has returned.
    await expect(job.result({ timeout: '10s' })).resolves.toBe('signalled');
    const fired = (await types()).flatMap((e) => (e.type === 'TimerFired' ? [e.timerId] : []));
    expect(fired).toEqual(['sleep:2']);
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
