import type { JobEvent } from '@ratchet/protocol';
import { defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const slow = defineWorkflow('slow', async (ctx, input: { ms: number }) => {
  await ctx.step(
    'long',
    ({ signal }) =>
      new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('finished'), input.ms);
        signal.addEventListener('abort', () => clearTimeout(timer));
      }),
  );
  return ctx.step('after', () => 'after');
});

const types = (events: readonly { event: JobEvent }[]) => events.map((e) => e.event.type);

describe.each(STACK_KINDS)('worker lifecycle on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
  });
  afterAll(() => stack.close());

  it('keeps a step that runs longer than the ack wait on its worker through heartbeats', async () => {
    const a = await stack.startWorker([slow] as never, { name: 'a', ackWaitMs: 600 });
    const b = await stack.startWorker([slow] as never, { name: 'b', ackWaitMs: 600 });
    const job = await stack.client.start(slow, { ms: 2500 });
    await expect(job.result({ timeout: '15s' })).resolves.toBe('after');
    const events = await stack.store.read(job.jobId);
    expect(types(events)).not.toContain('JobClaimed');
    expect(events.filter((e) => e.event.type === 'StepStarted')).toHaveLength(2);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('lets in-flight work finish on a graceful stop', async () => {
    const worker = await stack.startWorker([slow] as never, { name: 'graceful', shutdownGraceMs: 5000 });
    const job = await stack.client.start(slow, { ms: 800 });
    await expect.poll(async () => types(await stack.store.read(job.jobId)).includes('StepStarted'), { timeout: 10_000 }).toBe(true);
    await worker.stop();
    const events = await stack.store.read(job.jobId);
    expect(types(events)).toContain('StepCompleted');
    expect((await job.status()).status).toBe('completed');
  });

  it('releases unfinished work to another worker when the grace runs out', async () => {
    const leaving = await stack.startWorker([slow] as never, { name: 'leaving', shutdownGraceMs: 100, ackWaitMs: 600 });
    const job = await stack.client.start(slow, { ms: 1500 });
    await expect.poll(async () => types(await stack.store.read(job.jobId)).includes('StepStarted'), { timeout: 10_000 }).toBe(true);
    await leaving.stop();
    const staying = await stack.startWorker([slow] as never, { name: 'staying', ackWaitMs: 600 });
    await expect(job.result({ timeout: '15s' })).resolves.toBe('after');
    const events = await stack.store.read(job.jobId);
    expect(types(events)).toContain('JobReleased');
    const failed = events.map((e) => e.event).find((e) => e.type === 'StepFailed');
    expect(failed).toMatchObject({
      attempt: 1,
      failure: { name: 'WorkerStoppedError', message: expect.stringContaining('worker shut down') },
    });
    const started = events.map((e) => e.event).filter((e) => e.type === 'StepStarted');
    expect(started.map((e) => [e.name, e.attempt, e.worker])).toEqual([
      ['long', 1, 'leaving'],
      ['long', 2, 'staying'],
      ['after', 1, 'staying'],
    ]);
    await staying.stop();
  });
});
