import type { JobEvent, RecordedEvent } from '@ratchet/protocol';
import { defineWorkflow, NonRetryableError, RetryableError, StepFailedError } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const flaky = defineWorkflow('flaky', async (ctx) =>
  ctx.step(
    'call-provider',
    ({ attempt }) => {
      if (attempt <= 2) throw new Error(`provider down (attempt ${attempt})`);
      return `ok after ${attempt}`;
    },
    { retry: { initialInterval: 150, backoffCoefficient: 2, maximumAttempts: 5 } },
  ),
);

const caught = defineWorkflow('caught', async (ctx) => {
  try {
    await ctx.step(
      'always-fails',
      () => {
        throw new NonRetryableError('card declined');
      },
      { retry: { maximumAttempts: 5 } },
    );
    return 'charged';
  } catch (error) {
    return ctx.step('fallback', () => `fallback after ${(error as Error).name}`);
  }
});

const throttled = defineWorkflow('throttled', async (ctx) =>
  ctx.step(
    'rate-limited',
    ({ attempt }) => {
      if (attempt === 1) throw new RetryableError('429 too many requests', { retryAfter: '400ms' });
      return attempt;
    },
    { retry: { initialInterval: 10, maximumAttempts: 3 } },
  ),
);

/** What each attempt of `slow-then-quick` was given, by job. */
const keys = new Map<string, string[]>();

const impatient = defineWorkflow('impatient', async (ctx) =>
  ctx.step(
    'slow-then-quick',
    async ({ attempt, idempotencyKey }) => {
      keys.set(ctx.jobId, [...(keys.get(ctx.jobId) ?? []), idempotencyKey]);
      if (attempt === 1) await new Promise((resolve) => setTimeout(resolve, 2000));
      return attempt;
    },
    { timeout: '300ms', retry: { initialInterval: 10 } },
  ),
);

const giveUp = defineWorkflow('give-up', async (ctx, input: { error: string }) => {
  try {
    return await ctx.step(
      'call',
      ({ attempt }) => {
        const error = new Error(`failed attempt ${attempt}`);
        error.name = input.error;
        throw error;
      },
      { retry: { maximumAttempts: 3, initialInterval: 10, nonRetryable: ['CardDeclinedError'] } },
    );
  } catch (error) {
    return error instanceof StepFailedError ? error.message : 'not a StepFailedError';
  }
});

const hanging = defineWorkflow('hanging', async (ctx) => {
  try {
    // No per-attempt timeout: only the step's deadline bounds the attempt that hangs.
    return await ctx.step('hangs', () => new Promise((resolve) => setTimeout(resolve, 5000, 'finished late')), {
      retry: { deadline: '400ms' },
    });
  } catch (error) {
    return (error as Error).message;
  }
});

const of = <T extends JobEvent['type']>(events: readonly RecordedEvent[], type: T) =>
  events.map((e) => e.event).filter((e): e is Extract<JobEvent, { type: T }> => e.type === type);

describe.each(STACK_KINDS)('retries on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
  });
  afterAll(() => stack.close());

  for (const mode of ['waited out in the worker', 'through durable timers'] as const) {
    it(`records attempts 1-3 of a step failing twice at exactly the policy's times (${mode})`, async () => {
      const worker = await stack.startWorker([flaky] as never, { maxInProcessWaitMs: mode === 'through durable timers' ? 0 : 5000 });
      const job = await stack.client.start(flaky, {});
      await expect(job.result({ timeout: '10s' })).resolves.toBe('ok after 3');
      await worker.stop();
      const events = await stack.store.read(job.jobId);
      const started = of(events, 'StepStarted');
      const failed = of(events, 'StepFailed');
      const scheduled = of(events, 'StepRetryScheduled');
      expect(started.map((e) => e.attempt)).toEqual([1, 2, 3]);
      expect(failed.map((e) => [e.attempt, e.final])).toEqual([
        [1, false],
        [2, false],
      ]);
      expect(failed[0]?.failure.message).toBe('provider down (attempt 1)');
      // initialInterval 150 ms, coefficient 2: attempt 2 at +150 ms, attempt 3 at +300 ms.
      expect(scheduled.map((e) => e.at - (failed[e.attempt - 2]?.failedAt ?? 0))).toEqual([150, 300]);
      expect(scheduled.every((e) => e.durable === (mode === 'through durable timers'))).toBe(true);
      for (const retry of scheduled) {
        const attempt = started.find((e) => e.attempt === retry.attempt);
        expect(attempt?.startedAt).toBeGreaterThanOrEqual(retry.at);
        expect(attempt?.startedAt).toBeLessThan(retry.at + 1000);
      }
      expect(of(events, 'TimerFired')).toHaveLength(mode === 'through durable timers' ? 2 : 0);
    });
  }

  it('lets the workflow catch a step that gives up, with every attempt recorded', async () => {
    const worker = await stack.startWorker([caught] as never);
    const job = await stack.client.start(caught, {});
    await expect(job.result({ timeout: '10s' })).resolves.toBe('fallback after StepFailedError');
    await worker.stop();
    const failed = of(await stack.store.read(job.jobId), 'StepFailed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ attempt: 1, final: true, failure: { name: 'NonRetryableError', message: 'card declined' } });
  });

  it('abandons an attempt at its timeout and counts it; every attempt gets the same idempotency key', async () => {
    const worker = await stack.startWorker([impatient] as never);
    const job = await stack.client.start(impatient, {});
    await expect(job.result({ timeout: '10s' })).resolves.toBe(2);
    await worker.stop();
    const events = await stack.store.read(job.jobId);
    const [started] = of(events, 'StepStarted');
    const [failed] = of(events, 'StepFailed');
    expect(failed).toMatchObject({ attempt: 1, final: false, failure: { name: 'StepTimeoutError' } });
    expect((failed?.failedAt ?? 0) - (started?.startedAt ?? 0)).toBeGreaterThanOrEqual(300);
    expect((failed?.failedAt ?? 0) - (started?.startedAt ?? 0)).toBeLessThan(1500);
    expect(keys.get(job.jobId)).toEqual([`${job.jobId}:0`, `${job.jobId}:0`]);
  });

  it('gives a step up once its attempts are spent, or at once for an error the policy lists, every attempt recorded', async () => {
    const worker = await stack.startWorker([giveUp] as never);
    const spent = await stack.client.start(giveUp, { error: 'ProviderError' });
    await expect(spent.result({ timeout: '10s' })).resolves.toBe(
      'step "call" failed after 3 attempts (all 3 attempts failed): failed attempt 3',
    );
    expect(of(await stack.store.read(spent.jobId), 'StepFailed').map((e) => [e.attempt, e.final, e.failure.message])).toEqual([
      [1, false, 'failed attempt 1'],
      [2, false, 'failed attempt 2'],
      [3, true, 'failed attempt 3'],
    ]);
    const declined = await stack.client.start(giveUp, { error: 'CardDeclinedError' });
    await expect(declined.result({ timeout: '10s' })).resolves.toBe(
      'step "call" failed after 1 attempt (CardDeclinedError is listed in the policy as not retryable): failed attempt 1',
    );
    expect(of(await stack.store.read(declined.jobId), 'StepStarted')).toHaveLength(1);
    await worker.stop();
  });

  it('cuts off an attempt still running at the step deadline, and gives the step up', async () => {
    const worker = await stack.startWorker([hanging] as never);
    const job = await stack.client.start(hanging, {});
    await expect(job.result({ timeout: '10s' })).resolves.toMatch(
      /step "hangs" failed after 1 attempt \(the step's deadline of 400 ms would pass before attempt 2\): attempt 1 of step "hangs" was cut off at the step's deadline of 400 ms/,
    );
    await worker.stop();
    const events = await stack.store.read(job.jobId);
    const [started] = of(events, 'StepStarted');
    const [failed] = of(events, 'StepFailed');
    expect(failed).toMatchObject({ attempt: 1, final: true, failure: { name: 'StepTimeoutError' } });
    expect((failed?.failedAt ?? 0) - (started?.startedAt ?? 0)).toBeGreaterThanOrEqual(400);
    expect((failed?.failedAt ?? 0) - (started?.startedAt ?? 0)).toBeLessThan(1500);
  });

  it("waits for the error's retryAfter instead of the backoff", async () => {
    const worker = await stack.startWorker([throttled] as never);
    const job = await stack.client.start(throttled, {});
    await expect(job.result({ timeout: '10s' })).resolves.toBe(2);
    await worker.stop();
    const events = await stack.store.read(job.jobId);
    const [failure] = of(events, 'StepFailed');
    const [retry] = of(events, 'StepRetryScheduled');
    expect((retry?.at ?? 0) - (failure?.failedAt ?? 0)).toBe(400);
  });
});
