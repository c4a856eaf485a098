import { defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const approval = defineWorkflow('approval', async (ctx) => {
  await ctx.step('request', () => 'requested');
  const answer = await ctx.waitForSignal<{ approved: boolean }>('decision');
  return answer.timedOut ? 'timed out' : answer.payload.approved ? 'approved' : 'rejected';
});

const collector = defineWorkflow('collector', async (ctx) => {
  await ctx.sleep('300ms');
  const got: unknown[] = [];
  for (let i = 0; i < 3; i++) {
    const next = await ctx.waitForSignal('item');
    if (!next.timedOut) got.push(next.payload);
  }
  return got;
});

const patient = defineWorkflow('patient', async (ctx) => {
  const answer = await ctx.waitForSignal('never', { timeout: '300ms' });
  return answer.timedOut;
});

const busy = defineWorkflow('busy', async (ctx) => {
  const [work, signal] = await Promise.all([
    ctx.step('work', async () => {
      await new Promise((resolve) => setTimeout(resolve, 700));
      return 'worked';
    }),
    ctx.waitForSignal<string>('note'),
  ]);
  return [work, signal.timedOut ? null : signal.payload];
});

const alarm = defineWorkflow('alarm', async (ctx, input: { at: number }) => {
  await ctx.waitUntil(input.at);
  return ctx.step('ring', () => Date.now());
});

describe.each(STACK_KINDS)('signals on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
    await stack.startWorker([approval, collector, patient, busy, alarm] as never);
  });
  afterAll(() => stack.close());

  const lastEvent = async (jobId: string) => (await stack.store.read(jobId)).at(-1)?.event.type;

  it('wakes a job waiting for a signal with its payload', async () => {
    const job = await stack.client.start(approval, {});
    await expect.poll(() => lastEvent(job.jobId), { timeout: 10_000 }).toBe('WaitStarted');
    await stack.client.signal(job.jobId, 'decision', { approved: true });
    await expect(job.result({ timeout: '10s' })).resolves.toBe('approved');
  });

  it('keeps signals that arrive before the wait, in order', async () => {
    const job = await stack.client.start(collector, {});
    for (const item of ['a', 'b', 'c']) await stack.client.signal(job.jobId, 'item', item);
    await expect(job.result({ timeout: '10s' })).resolves.toEqual(['a', 'b', 'c']);
    const state = await stack.client.describe(job.jobId);
    expect(state.signals.map((s) => [s.payload, s.takenBy])).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
  });

  it('ends a wait with a timeout result when no signal comes', async () => {
    const job = await stack.client.start(patient, {});
    await expect(job.result({ timeout: '10s' })).resolves.toBe(true);
    const types = (await stack.store.read(job.jobId)).map((e) => e.event.type);
    expect(types).toEqual(['JobStarted', 'WaitStarted', 'TimerFired', 'WaitEnded', 'JobCompleted']);
  });

  it('hands a signal to the worker holding the job through its next append', async () => {
    const job = await stack.client.start(busy, {});
    await expect.poll(() => lastEvent(job.jobId), { timeout: 10_000 }).toBe('WaitStarted');
    await stack.client.signal(job.jobId, 'note', 'hello');
    await expect(job.result({ timeout: '10s' })).resolves.toEqual(['worked', 'hello']);
    const events = (await stack.store.read(job.jobId)).map((e) => e.event.type);
    // One delivery: the step's worker took the signal, nobody was dispatched again.
    expect(events).not.toContain('JobClaimed');
    expect(events.filter((type) => type === 'StepStarted')).toHaveLength(1);
  });

  it('sleeps until an absolute time', async () => {
    const at = Date.now() + 400;
    const job = await stack.client.start(alarm, { at });
    await expect(job.result({ timeout: '10s' })).resolves.toBeGreaterThanOrEqual(at);
  });

  it('refuses a signal to an unknown or finished job, naming it', async () => {
    await expect(stack.client.signal('no-such-job', 'x')).rejects.toMatchObject({
      name: 'JobNotFoundError',
      message: 'cannot signal job no-such-job: no job no-such-job',
    });
    const done = await stack.client.start(patient, {});
    await done.result({ timeout: '10s' });
    await expect(stack.client.signal(done.jobId, 'x')).rejects.toMatchObject({ name: 'JobFinishedError' });
    await expect(stack.client.signal(done.jobId, 'x', () => 1)).rejects.toThrow('payload of signal "x" is a function');
  });
});
