import { defineWorkflow } from '@ratchet/sdk';
import { replayHistory } from '@ratchet/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../harness/index.ts';

let charged = 0;
const original = defineWorkflow('refund', async (ctx, input: { amount: number }) => {
  const id = await ctx.step('lookup', () => 'order-1');
  await ctx.step('refund', () => {
    charged += 1;
    return input.amount;
  });
  return ctx.step('notify', () => `refunded ${id}`);
});
// New code that swapped two steps: running jobs would break.
const reordered = defineWorkflow('refund', async (ctx, input: { amount: number }) => {
  await ctx.step('refund', () => input.amount);
  return ctx.step('lookup', () => 'order-1');
});

describe('replaying a recorded history against code', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('pglite+memory');
    await stack.startWorker([original] as never);
  });
  afterAll(() => stack.close());

  it('says deterministic for the code that wrote it, without running any step again', async () => {
    const job = await stack.client.start(original, { amount: 5 });
    await job.result({ timeout: '10s' });
    const before = charged;
    const events = await stack.store.read(job.jobId);
    await expect(replayHistory(original, events)).resolves.toEqual({ deterministic: true, replayed: 3 });
    expect(charged).toBe(before);
    // An export (JSON) replays the same.
    const exported = JSON.parse(JSON.stringify({ events }));
    await expect(replayHistory(original, exported.events)).resolves.toMatchObject({ deterministic: true });
  });

  it('shows the first divergence: position, the recorded call, the call made, and where', async () => {
    const job = await stack.client.start(original, { amount: 7 });
    await job.result({ timeout: '10s' });
    const report = await replayHistory(reordered, await stack.store.read(job.jobId));
    expect(report).toMatchObject({
      deterministic: false,
      position: 0,
      expected: { kind: 'step', name: 'lookup' },
      actual: { kind: 'step', name: 'refund' },
      location: expect.stringContaining('replay.test.ts'),
    });
  });
});
