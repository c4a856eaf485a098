import { type Duration, subjectsFor } from '@ratchet/protocol';
import { CancelledError, defineBreaker, defineWorkflow, EngineClient, JobFailedError } from '@ratchet/sdk';
import { replayHistory } from '@ratchet/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const trip = defineWorkflow('book-trip', async (ctx) => {
  const booked: string[] = [];
  try {
    booked.push(await ctx.step('book-flight', () => 'flight'));
    await ctx.sleep('1h');
    booked.push(await ctx.step('book-hotel', () => 'hotel'));
    return booked;
  } catch (error) {
    if (!(error instanceof CancelledError)) throw error;
    // Saga: undo what was done, then end as cancelled.
    for (const item of booked.reverse()) await ctx.step(`cancel-${item}`, () => `cancelled ${item}`);
    throw error;
  }
});

const longStep = defineWorkflow('long-step', async (ctx) => {
  await ctx.step('slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 600));
    return 'slow done';
  });
  // Starts in the same append that completes "slow", before its worker hears of the cancellation.
  await ctx.step('next', () => 'next done');
  await ctx.sleep('1h');
  return 'done';
});

const napping = defineWorkflow('napping', async (ctx) => {
  await ctx.sleep('1h');
  return 'woke';
});

/** A charge whose provider is down: every attempt fails; a cancellation is compensated. */
const stubborn = defineWorkflow('stubborn', async (ctx, input: { backoff: Duration }) => {
  try {
    return await ctx.step(
      'charge',
      () => {
        throw new Error('provider down');
      },
      { retry: { initialInterval: input.backoff, backoffCoefficient: 1, maximumAttempts: 5 } },
    );
  } catch (error) {
    if (error instanceof CancelledError) await ctx.step('release-hold', () => 'released');
    throw error;
  }
});

const closedShop = defineBreaker('closed-shop', { failureThreshold: 1, cooldown: '1h' });
const shopping = defineWorkflow('shopping', async (ctx) => ctx.step('buy', () => 'bought', { breaker: closedShop }));

const types = async (stack: Stack, jobId: string) => (await stack.store.read(jobId)).map((e) => e.event.type);

describe.each(STACK_KINDS)('cancellation on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
    await stack.startWorker([trip, longStep, napping, stubborn, shopping] as never, { breakers: [closedShop] });
  });
  afterAll(() => stack.close());

  it('tells a parked workflow, which compensates and ends as cancelled', async () => {
    const job = await stack.client.start(trip, {});
    await expect.poll(() => types(stack, job.jobId), { timeout: 10_000 }).toContain('TimerStarted');
    await stack.client.cancel(job.jobId, 'customer changed plans');
    const error = (await job.result({ timeout: '10s' }).catch((e: unknown) => e)) as JobFailedError;
    expect(error).toBeInstanceOf(JobFailedError);
    expect(error.failure).toMatchObject({ name: 'CancelledError', message: 'customer changed plans' });
    expect((await job.status()).status).toBe('cancelled');
    const events = (await stack.store.read(job.jobId)).map((e) => e.event);
    expect(events.map((e) => e.type).slice(-6)).toEqual([
      'TimerStarted',
      'CancelRequested',
      'CancelDelivered',
      'StepStarted',
      'StepCompleted',
      'JobCancelled',
    ]);
    expect(events.filter((e) => e.type === 'StepStarted').map((e) => e.type === 'StepStarted' && e.name)).toEqual([
      'book-flight',
      'cancel-flight',
    ]);
  });

  it('lets a running step finish; its worker hears of it with its next append and tells the workflow at the call after', async () => {
    const job = await stack.client.start(longStep, {});
    await expect.poll(() => types(stack, job.jobId), { timeout: 10_000 }).toContain('StepStarted');
    await stack.client.cancel(job.jobId, 'stop');
    await expect(job.result({ timeout: '10s' })).rejects.toMatchObject({ failure: { name: 'CancelledError' } });
    const events = await types(stack, job.jobId);
    expect(events.slice(1)).toEqual([
      'StepStarted',
      'CancelRequested',
      'StepCompleted',
      'StepStarted',
      'StepCompleted',
      'CancelDelivered',
      'JobCancelled',
    ]);
    expect(events).not.toContain('JobClaimed');
  });

  it('tells a workflow whose step waits an hour for its retry at once, and runs no further attempt', async () => {
    const job = await stack.client.start(stubborn, { backoff: '1h' });
    await expect.poll(() => types(stack, job.jobId), { timeout: 10_000 }).toContain('StepRetryScheduled');
    await stack.client.cancel(job.jobId, 'order withdrawn');
    await expect(job.result({ timeout: '10s' })).rejects.toMatchObject({ failure: { name: 'CancelledError', message: 'order withdrawn' } });
    expect((await types(stack, job.jobId)).slice(1)).toEqual([
      'StepStarted',
      'StepFailed',
      'StepRetryScheduled',
      'CancelRequested',
      'CancelDelivered',
      'StepStarted',
      'StepCompleted',
      'JobCancelled',
    ]);
    const [charge] = (await stack.client.describe(job.jobId)).journal;
    expect(charge).toMatchObject({ kind: 'step', status: 'failed', failure: { name: 'CancelledError' }, attempts: [{ attempt: 1 }] });
    // A replay tells the workflow at the same step, so it compensates the same way.
    await expect(replayHistory(stubborn as never, await stack.store.read(job.jobId))).resolves.toEqual({
      deterministic: true,
      replayed: 2,
    });
  });

  it('stops retrying a step whose retries the worker waits out once it hears of a cancellation', async () => {
    const job = await stack.client.start(stubborn, { backoff: '500ms' });
    await expect.poll(() => types(stack, job.jobId), { timeout: 10_000 }).toContain('StepRetryScheduled');
    await stack.client.cancel(job.jobId, 'order withdrawn');
    await expect(job.result({ timeout: '10s' })).rejects.toMatchObject({ failure: { name: 'CancelledError' } });
    const events = await types(stack, job.jobId);
    // The worker hears of it with the append that starts attempt 2, which still runs; no attempt 3.
    const charges = (await stack.store.read(job.jobId)).flatMap(({ event }) =>
      event.type === 'StepStarted' && event.name === 'charge' ? [event.attempt] : [],
    );
    expect(charges).toEqual([1, 2]);
    expect(events.slice(-5)).toEqual(['StepFailed', 'CancelDelivered', 'StepStarted', 'StepCompleted', 'JobCancelled']);
  });

  it('tells a workflow whose step its breaker holds back, without waiting for the breaker', async () => {
    const engine = new EngineClient({ transport: stack.transport, subjects: subjectsFor(stack.prefix) });
    await engine.send({ type: 'ControlBreaker', op: 'trip', name: 'closed-shop', forMs: 3_600_000 });
    const job = await stack.client.start(shopping, {});
    await expect.poll(() => types(stack, job.jobId), { timeout: 10_000 }).toContain('StepBlocked');
    await stack.client.cancel(job.jobId, 'not needed');
    await expect(job.result({ timeout: '10s' })).rejects.toMatchObject({ failure: { name: 'CancelledError' } });
    expect(await types(stack, job.jobId)).toEqual(['JobStarted', 'StepBlocked', 'CancelRequested', 'CancelDelivered', 'JobCancelled']);
  });

  it('terminates a job at once, without running its workflow again', async () => {
    const job = await stack.client.start(napping, {});
    await expect.poll(() => types(stack, job.jobId), { timeout: 10_000 }).toContain('TimerStarted');
    const summary = await stack.client.terminate(job.jobId, 'operator');
    expect(summary).toMatchObject({ status: 'cancelled', failure: { name: 'CancelledError', message: 'operator' } });
    expect(await types(stack, job.jobId)).toEqual(['JobStarted', 'TimerStarted', 'JobCancelled']);
    await expect(stack.client.cancel(job.jobId)).rejects.toMatchObject({
      name: 'JobFinishedError',
      message: expect.stringContaining('has already been cancelled'),
    });
  });

  it('refuses a start with an existing id when asked to, and attaches by default', async () => {
    const first = await stack.client.start(napping, {}, { jobId: `policy-${kind.length}` });
    await expect(stack.client.start(napping, {}, { jobId: first.jobId, onExisting: 'reject' })).rejects.toMatchObject({
      name: 'JobExistsError',
    });
    expect((await stack.client.start(napping, {}, { jobId: first.jobId })).jobId).toBe(first.jobId);
    await expect(stack.client.start(longStep, {}, { jobId: first.jobId })).rejects.toMatchObject({ name: 'JobIdConflictError' });
    await stack.client.terminate(first.jobId);
  });
});
