import { defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const runs = new Map<string, number>();

const reminder = defineWorkflow('reminder', async (ctx, input: { tag: string }) => {
  const before = await ctx.step('before', () => {
    runs.set(`${input.tag}/before`, (runs.get(`${input.tag}/before`) ?? 0) + 1);
    return ctx.jobId;
  });
  await ctx.sleep('1500ms');
  const after = await ctx.step('after', () => {
    runs.set(`${input.tag}/after`, (runs.get(`${input.tag}/after`) ?? 0) + 1);
    return Date.now();
  });
  return { before, after };
});

describe.each(STACK_KINDS)('restarts on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
  });
  afterAll(() => stack.close());

  it('keeps a sleep that outlives an engine and worker restart, firing it once at its recorded time', async () => {
    await stack.startWorker([reminder] as never);
    const job = await stack.client.start(reminder, { tag: kind });
    await expect.poll(async () => (await stack.store.read(job.jobId)).at(-1)?.event.type, { timeout: 10_000 }).toBe('TimerStarted');
    await stack.restart();
    await stack.startWorker([reminder] as never);
    const output = (await job.result({ timeout: '15s' })) as { after: number };
    const events = (await stack.store.read(job.jobId)).map((e) => e.event);
    const timer = events.find((e) => e.type === 'TimerStarted');
    const fired = events.filter((e) => e.type === 'TimerFired');
    expect(fired).toHaveLength(1);
    expect(timer?.type === 'TimerStarted' && fired[0]?.type === 'TimerFired' && fired[0].firedAt >= timer.fireAt).toBe(true);
    expect(output.after).toBeGreaterThanOrEqual(timer?.type === 'TimerStarted' ? timer.fireAt : Number.POSITIVE_INFINITY);
    expect(runs.get(`${kind}/before`)).toBe(1);
    expect(runs.get(`${kind}/after`)).toBe(1);
  });
});
