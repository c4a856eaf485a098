import { readFile } from 'node:fs/promises';
import { crashAfterStep, deliverTwice, failAttempt, parseExportedHistory, replayHistory, TestEnvironment } from '@ratchet/engine/testing';
import { exportHistory, type JobEvent, type RecordedEvent } from '@ratchet/protocol';
import { defineBreaker, defineWorkflow, JobFailedError, type Workflow } from '@ratchet/sdk';
import { afterEach, describe, expect, it } from 'vitest';

const DAY = 24 * 60 * 60 * 1000;
const HOUR = 60 * 60 * 1000;

const of = <T extends JobEvent['type']>(events: readonly RecordedEvent[], type: T) =>
  events.filter((e) => e.event.type === type) as (RecordedEvent & { event: Extract<JobEvent, { type: T }> })[];

/** How often each step function really ran, per test. */
let runs = new Map<string, number>();
const ran = (name: string): number => {
  const count = (runs.get(name) ?? 0) + 1;
  runs.set(name, count);
  return count;
};

const reminder = defineWorkflow('reminder', async (ctx) => {
  const startedAt = ctx.now();
  await ctx.step('remind', () => ran('remind') && 'reminded');
  await ctx.sleep('30d');
  const wokeAt = ctx.now();
  const answer = await ctx.waitForSignal('ack', { timeout: '7d' });
  return { startedAt, wokeAt, endedAt: ctx.now(), timedOut: answer.timedOut };
});

const charge = defineWorkflow('charge', async (ctx) =>
  ctx.step(
    'charge',
    ({ attempt }) => {
      ran('charge');
      return `charged on attempt ${attempt}`;
    },
    { retry: { initialInterval: '1h', maximumAttempts: 3 } },
  ),
);

const quickRetry = defineWorkflow('quick-retry', async (ctx) =>
  ctx.step('call', ({ attempt }) => attempt, { retry: { initialInterval: 1500, maximumAttempts: 2 } }),
);

const order = defineWorkflow('order', async (ctx) => {
  const a = await ctx.step('reserve', () => ran('reserve') && 'reserved');
  const b = await ctx.step('charge', () => ran('charge') && 'charged');
  await ctx.sleep('1d');
  const c = await ctx.step('ship', () => ran('ship') && 'shipped');
  return [a, b, c];
});

const hung = defineWorkflow('hung', async (ctx) =>
  ctx.step('hang', () => new Promise(() => {}), { timeout: '10m', retry: { maximumAttempts: 1 } }),
);

const approval = defineWorkflow('approval', async (ctx) => {
  const answer = await ctx.waitForSignal<string>('decision', { timeout: '7d' });
  return answer.timedOut ? 'timed out' : answer.payload;
});

const napper = defineWorkflow('napper', async (ctx) => {
  await ctx.sleep('1d');
  return 'rested';
});

const mail = defineBreaker('mail', { failureThreshold: 1, cooldown: '1h' });

const newsletter = defineWorkflow('newsletter', async (ctx) =>
  ctx.step('send', ({ attempt }) => `sent on attempt ${attempt}`, {
    breaker: 'mail',
    retry: { initialInterval: '1s', maximumAttempts: 3 },
  }),
);

const renewal = defineWorkflow('renewal', async (ctx, customer: string) => {
  const notice = await ctx.child(napper, {});
  return `${customer}: ${notice}`;
});

const all: Workflow<never, unknown>[] = [reminder, charge, quickRetry, order, hung, approval, napper, newsletter, renewal];

describe('the test kit', () => {
  let env: TestEnvironment | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
    runs = new Map();
  });

  it('completes a 30-day sleep and a 7-day signal timeout in well under a second, recording 30 and 7 days', async () => {
    const startTime = Date.UTC(2030, 0, 1);
    env = await TestEnvironment.create({ workflows: all, startTime });
    const wall = performance.now();
    const job = await env.client.start(reminder, {});
    const result = await job.result({ timeout: '5s' });
    expect(performance.now() - wall).toBeLessThan(1000);
    expect(result).toEqual({ startedAt: startTime, wokeAt: startTime + 30 * DAY, endedAt: startTime + 37 * DAY, timedOut: true });
    const events = await env.history(job.jobId);
    const fired = of(events, 'TimerFired');
    expect(fired.map((e) => e.recordedAt - startTime)).toEqual([30 * DAY, 37 * DAY]);
    expect(of(events, 'JobStarted')[0]?.recordedAt).toBe(startTime);
    expect(env.now()).toBe(startTime + 37 * DAY);
    expect(runs.get('remind')).toBe(1);
  });

  it('waits out a 1-hour retry backoff at once, the log showing the hour (failing attempt 1 by injection)', async () => {
    env = await TestEnvironment.create({ workflows: all, faults: [failAttempt('charge', 1, { error: new Error('card service down') })] });
    const wall = performance.now();
    const job = await env.client.start(charge, {});
    await expect(job.result({ timeout: '5s' })).resolves.toBe('charged on attempt 2');
    expect(performance.now() - wall).toBeLessThan(1000);
    const events = await env.history(job.jobId);
    const failed = of(events, 'StepFailed');
    expect(failed.map((e) => [e.event.attempt, e.event.final, e.event.failure.message])).toEqual([[1, false, 'card service down']]);
    const [retry] = of(events, 'StepRetryScheduled');
    expect(retry?.event).toMatchObject({ attempt: 2, durable: true, at: (failed[0]?.event.failedAt ?? 0) + HOUR });
    const second = of(events, 'StepStarted').find((e) => e.event.attempt === 2);
    expect(second?.event.startedAt).toBe(retry?.event.at);
    // Attempt 1 threw before the step function: it ran once, for attempt 2.
    expect(runs.get('charge')).toBe(1);
    expect(env.injectedFaults).toEqual([
      expect.objectContaining({ jobId: job.jobId, detail: 'attempt 1 of step "charge" threw Error: card service down' }),
    ]);
  });

  it('runs a retry wait short enough for the worker on the virtual clock too', async () => {
    env = await TestEnvironment.create({ workflows: all, faults: [failAttempt('call', 1)] });
    const wall = performance.now();
    const job = await env.client.start(quickRetry, {});
    await expect(job.result({ timeout: '5s' })).resolves.toBe(2);
    expect(performance.now() - wall).toBeLessThan(1000);
    const events = await env.history(job.jobId);
    const [retry] = of(events, 'StepRetryScheduled');
    expect(retry?.event.durable).toBe(false);
    const [failed] = of(events, 'StepFailed');
    expect(failed?.event.failure.message).toBe('injected failure of attempt 1 of step "call"');
    expect(of(events, 'StepStarted').find((e) => e.event.attempt === 2)?.event.startedAt).toBe((failed?.event.failedAt ?? 0) + 1500);
    expect(of(events, 'TimerFired')).toHaveLength(0);
  });

  it('crashes the worker after a step: a fresh worker claims the job and runs no completed step again', async () => {
    env = await TestEnvironment.create({ workflows: all, faults: [crashAfterStep('charge')] });
    const first = env.worker;
    const job = await env.client.start(order, {});
    await expect(job.result({ timeout: '5s' })).resolves.toEqual(['reserved', 'charged', 'shipped']);
    expect(env.worker).not.toBe(first);
    expect(Object.fromEntries(runs)).toEqual({ reserve: 1, charge: 1, ship: 1 });
    const events = await env.history(job.jobId);
    const claimed = of(events, 'JobClaimed');
    expect(claimed).toHaveLength(1);
    expect(claimed[0]?.event.worker).toBe('test-worker-2');
    // Each completed step completed once, and its only attempt was the first worker's.
    const completed = of(events, 'StepCompleted');
    expect(completed.map((e) => e.event.stepId)).toEqual([0, 1, 3]);
    const started = of(events, 'StepStarted');
    expect(started.filter((e) => e.event.stepId <= 1).map((e) => e.event.worker)).toEqual(['test-worker-1', 'test-worker-1']);
    expect(claimed[0]!.seq).toBeGreaterThan(completed[1]!.seq);
    expect(env.injectedFaults.map((f) => f.detail)).toEqual(['worker crashed after step "charge" (attempt 1) completed']);
  });

  it('hands every job the crashed worker held to the fresh one', async () => {
    env = await TestEnvironment.create({ workflows: all });
    const jobs = await Promise.all(Array.from({ length: 5 }, () => env!.client.start(order, {})));
    env.inject(crashAfterStep('charge', { jobId: jobs[0]!.jobId }));
    for (const job of jobs) await expect(job.result({ timeout: '5s' })).resolves.toEqual(['reserved', 'charged', 'shipped']);
    expect(env.injectedFaults.map((f) => f.jobId)).toEqual([jobs[0]!.jobId]);
    for (const job of jobs) {
      const events = await env.history(job.jobId);
      // Whatever the crash interrupted was retried, but every step completed exactly once.
      expect(of(events, 'StepCompleted').map((e) => e.event.stepId)).toEqual([0, 1, 3]);
      expect(of(events, 'JobCompleted')).toHaveLength(1);
    }
    // The jobs run side by side, so the worker held others than the one whose step it crashed after.
    const claimed = await Promise.all(jobs.map(async (job) => of(await env!.history(job.jobId), 'JobClaimed').length));
    expect(claimed.filter((count) => count === 1).length).toBeGreaterThanOrEqual(2);
    const crashed = await env.history(jobs[0]!.jobId);
    expect(of(crashed, 'JobClaimed').map((e) => e.event.worker)).toEqual(['test-worker-2']);
    expect(of(crashed, 'StepStarted').filter((e) => e.event.stepId <= 1)).toHaveLength(2);
  });

  it('keeps a breaker open for its 1-hour cooldown on the virtual clock, without spending an attempt', async () => {
    env = await TestEnvironment.create({ workflows: all, breakers: [mail], faults: [failAttempt('send', 1)] });
    const wall = performance.now();
    const job = await env.client.start(newsletter, {});
    await expect(job.result({ timeout: '5s' })).resolves.toBe('sent on attempt 2');
    expect(performance.now() - wall).toBeLessThan(1000);
    const events = await env.history(job.jobId);
    const [failed] = of(events, 'StepFailed');
    const [blocked] = of(events, 'StepBlocked');
    expect(blocked?.event).toMatchObject({ attempt: 2, breaker: 'mail', until: (failed?.event.failedAt ?? 0) + HOUR });
    const [, second] = of(events, 'StepStarted');
    expect(second?.event).toMatchObject({ attempt: 2, startedAt: blocked?.event.until, breaker: 'mail', probe: true });
  });

  it('runs a child job with its own sleep on the same virtual clock', async () => {
    env = await TestEnvironment.create({ workflows: all });
    const start = env.now();
    const job = await env.client.start(renewal, 'ada');
    await expect(job.result({ timeout: '5s' })).resolves.toBe('ada: rested');
    const [child] = of(await env.history(job.jobId), 'ChildFinished');
    expect(child?.recordedAt).toBe(start + DAY);
  });

  it('delivers tasks twice without doing anything twice', async () => {
    env = await TestEnvironment.create({ workflows: all, faults: [deliverTwice({ times: 2 })] });
    const job = await env.client.start(order, {});
    await expect(job.result({ timeout: '5s' })).resolves.toEqual(['reserved', 'charged', 'shipped']);
    await env.idle();
    expect(env.injectedFaults).toHaveLength(2);
    expect(Object.fromEntries(runs)).toEqual({ reserve: 1, charge: 1, ship: 1 });
    const events = await env.history(job.jobId);
    expect(of(events, 'StepStarted').map((e) => e.event.stepId)).toEqual([0, 1, 3]);
    expect(of(events, 'StepCompleted').map((e) => e.event.stepId)).toEqual([0, 1, 3]);
    expect(of(events, 'TimerFired')).toHaveLength(1);
    expect(of(events, 'JobCompleted')).toHaveLength(1);
  });

  it('moves time only by hand when asked to, and lets a step time out on the virtual clock', async () => {
    env = await TestEnvironment.create({ workflows: all, autoAdvance: false });
    const start = env.now();
    const nap = await env.client.start(napper, {});
    await env.idle();
    await env.advance('23h');
    expect((await nap.status()).status).toBe('running');
    await env.advance('1h');
    await expect(nap.result({ timeout: '5s' })).resolves.toBe('rested');
    expect(env.now()).toBe(start + DAY);

    const stuck = await env.client.start(hung, {});
    await env.advance('9m');
    expect((await env.describe(stuck.jobId)).status).toBe('running');
    await env.advance('1m');
    await expect(stuck.result({ timeout: '5s' })).rejects.toThrow(JobFailedError);
    const [failed] = of(await env.history(stuck.jobId), 'StepFailed');
    expect(failed?.event.failure.name).toBe('StepTimeoutError');
    expect(failed?.event.failedAt).toBe(start + DAY + 10 * 60_000);
  });

  it('delivers a signal sent while the job waits, at the virtual time it was sent', async () => {
    env = await TestEnvironment.create({ workflows: all, autoAdvance: false });
    const start = env.now();
    const job = await env.client.start(approval, {});
    await env.sleep('2d');
    await env.client.signal(job.jobId, 'decision', 'approved');
    await expect(job.result({ timeout: '5s' })).resolves.toBe('approved');
    const [received] = of(await env.history(job.jobId), 'SignalReceived');
    expect(received?.recordedAt).toBe(start + 2 * DAY);
  });

  it("replays an exported history with the kit's replayHistory, and shows a changed workflow diverging", async () => {
    env = await TestEnvironment.create({ workflows: all });
    const job = await env.client.start(order, {});
    await job.result({ timeout: '5s' });
    // What `ratchet export` writes to a file, read back as a test would read it.
    const { events: exported } = parseExportedHistory(exportHistory(job.jobId, await env.history(job.jobId)));
    await expect(replayHistory(order, exported)).resolves.toEqual({ deterministic: true, replayed: 4 });
    const reordered = defineWorkflow('order', async (ctx) => {
      await ctx.step('charge', () => 'charged');
      return 'changed';
    });
    await expect(replayHistory(reordered, exported)).resolves.toMatchObject({
      deterministic: false,
      position: 0,
      expected: { kind: 'step', name: 'reserve' },
      actual: { kind: 'step', name: 'charge' },
    });
  });

  it('refuses bad setup with errors that name the problem', async () => {
    await expect(TestEnvironment.create({ workflows: [] })).rejects.toThrow(/at least one workflow/);
    await expect(TestEnvironment.create({ workflows: all, startTime: Number.NaN })).rejects.toThrow(/startTime must be a valid time/);
    for (const startTime of [1e16, 2 ** 48, -1, 1.5, new Date(Number.NaN), '2030' as never]) {
      await expect(TestEnvironment.create({ workflows: all, startTime })).rejects.toThrow(
        new RangeError(
          `startTime must be a valid time: a Date or whole ms since the epoch from 0 to 281474976710655 (the latest a job id can hold), got ${String(startTime)}`,
        ),
      );
    }
    await expect(TestEnvironment.create({ workflows: all, faults: 'x' as never })).rejects.toThrow(
      new TypeError('faults must be an array (of crashAfterStep, deliverTwice, failAttempt), got string'),
    );
    expect(() => failAttempt('charge', 0)).toThrow(/attempt must be a positive integer/);
    expect(() => crashAfterStep('')).toThrow(/non-empty name/);
    expect(() => deliverTwice({ times: 1.5 })).toThrow(/times must be a positive integer/);
    env = await TestEnvironment.create({ workflows: all });
    expect(() => env?.inject({ kind: 'explode' } as never)).toThrow(/unknown fault "explode"/);
    await expect(env.advance('-1d' as never)).rejects.toThrow(/advance duration/);
  });

  it('shows in sdk/README.md exactly the examples test-kit-readme.test.ts runs', async () => {
    const readme = await readFile(new URL('../../sdk/README.md', import.meta.url), 'utf8');
    const examples = await readFile(new URL('./test-kit-readme.test.ts', import.meta.url), 'utf8');
    const block = /```ts\n(import \{ crashAfterStep[\s\S]*?\n)```\n/.exec(readme)?.[1];
    expect(block).toBe(examples.slice(examples.indexOf('\n') + 1));
  });
});
