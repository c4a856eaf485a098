import { Engine } from '@ratchet/engine';
import { foldEvents } from '@ratchet/protocol';
import { defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

/** Calls of each step function, to show that nothing recorded runs again after a cold start. */
const calls = new Map<string, number>();

const long = defineWorkflow('long', async (ctx, input: { steps: number }) => {
  let total = 0;
  for (let i = 0; i < input.steps; i++) {
    total += await ctx.step(`add-${i}`, () => {
      calls.set(`${ctx.jobId}:${i}`, (calls.get(`${ctx.jobId}:${i}`) ?? 0) + 1);
      return i;
    });
  }
  const bonus = await ctx.waitForSignal<number>('bonus');
  return total + (bonus.timedOut ? 0 : bonus.payload);
});

describe.each(STACK_KINDS)('JobState snapshots on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind, { snapshotEvery: 20 });
    await stack.startWorker([long] as never);
  });
  afterAll(() => stack.close());

  it('are taken as the log passes each multiple of snapshotEvery, and a cold engine and worker resume from them', async () => {
    const job = await stack.client.start(long, { steps: 30 });
    // 1 start + 30 × (started, completed) + the wait: parked at 62 events.
    await expect.poll(async () => (await stack.store.getJob(job.jobId))?.lastSeq, { timeout: 10_000 }).toBe(62);
    await expect.poll(async () => (await stack.store.readLatest(job.jobId)).snapshot?.lastSeq, { timeout: 5_000 }).toBe(60);
    const latest = await stack.store.readLatest(job.jobId);
    expect(latest.events.map((e) => e.seq)).toEqual([61, 62]);
    expect(foldEvents(job.jobId, latest.events, latest.snapshot)).toEqual(foldEvents(job.jobId, await stack.store.read(job.jobId)));

    // Nothing cached anywhere: the engine loads snapshot + tail, the new worker asks it for the state.
    await stack.restart({ snapshotEvery: 20 });
    await stack.startWorker([long] as never);
    await stack.client.signal(job.jobId, 'bonus', 1000);
    await expect(job.result({ timeout: '10s' })).resolves.toBe(1000 + (29 * 30) / 2);
    expect([...calls].filter(([key, n]) => key.startsWith(job.jobId) && n !== 1)).toEqual([]);
  });

  it('are what a cold engine reads: the state comes from the snapshot, not from folding the whole log', async () => {
    const job = await stack.client.start(long, { steps: 2 });
    await expect.poll(async () => (await stack.store.getJob(job.jobId))?.lastSeq, { timeout: 10_000 }).toBe(6);
    // A marked snapshot (never done outside a test) shows which source a cold engine used.
    const folded = foldEvents(job.jobId, await stack.store.read(job.jobId));
    await stack.store.writeSnapshot({ ...folded, input: { steps: 2, marked: true } });
    await stack.restart({ snapshotEvery: 20 });
    expect(await stack.client.describe(job.jobId)).toMatchObject({ input: { steps: 2, marked: true }, lastSeq: 6 });
  });

  it('refuses a snapshot interval that is not a whole number of events', () => {
    for (const snapshotEvery of [0, 2.5]) {
      expect(() => new Engine({ store: stack.store, transport: stack.transport, snapshotEvery })).toThrow(
        `snapshotEvery must be a whole number of events >= 1, got ${snapshotEvery}`,
      );
    }
  });
});
