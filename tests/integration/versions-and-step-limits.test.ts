import type { JobEvent } from '@ratchet/protocol';
import { defineWorkflow, RetryableError } from '@ratchet/sdk';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const beforePatch = defineWorkflow('invoice', async (ctx) => {
  await ctx.step('draft', () => 'draft');
  await ctx.sleep('300ms');
  return ctx.step('send', () => 'sent by post');
});
// The same workflow after a change shipped under `ctx.patched`: old jobs keep their path.
const afterPatch = defineWorkflow('invoice', async (ctx) => {
  await ctx.step('draft', () => 'draft');
  if (ctx.patched('e-invoice')) await ctx.step('sign', () => 'signed');
  await ctx.sleep('300ms');
  return ctx.step('send', () => (ctx.patched('e-mail') ? 'sent by e-mail' : 'sent by post'));
});

const v2 = defineWorkflow('report', async (ctx) => ctx.step('make', () => 'v2 report'), { version: '2' });
const v3 = defineWorkflow('report', async (ctx) => ctx.step('make', () => 'v3 report'), { version: '3' });

const silent = defineWorkflow('silent', async (ctx) =>
  ctx.step(
    'quiet',
    async ({ attempt, heartbeat }) => {
      for (let i = 0; i < 5; i++) {
        if (attempt > 1) heartbeat(i);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return attempt;
    },
    { heartbeatTimeout: '250ms', retry: { initialInterval: 10 } },
  ),
);

const limited = defineWorkflow('limited', async (ctx) =>
  ctx.step(
    'rate-limited',
    ({ attempt }) => {
      throw attempt < 10 ? new RetryableError('slow down') : new Error('other');
    },
    {
      retry: {
        initialInterval: 50,
        maximumAttempts: 2,
        rules: [{ errors: ['RetryableError'], maximumAttempts: 20, initialInterval: 10 }],
        deadline: '400ms',
      },
    },
  ),
);

const events = async (stack: Stack, jobId: string) => (await stack.store.read(jobId)).map((e) => e.event);

describe.each(STACK_KINDS)('versions and step limits on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
  });
  afterAll(() => stack.close());

  it('keeps a job started before a patch on its old path, and takes the new one for new jobs', async () => {
    const old = await stack.startWorker([beforePatch] as never, { name: 'old' });
    const oldJob = await stack.client.start(beforePatch, {});
    await expect.poll(async () => (await events(stack, oldJob.jobId)).at(-1)?.type, { timeout: 10_000 }).toBe('TimerStarted');
    await old.stop();
    const current = await stack.startWorker([afterPatch] as never, { name: 'new' });
    await expect(oldJob.result({ timeout: '10s' })).resolves.toBe('sent by e-mail');
    const oldSteps = (await events(stack, oldJob.jobId)).flatMap((e) => (e.type === 'StepStarted' ? [e.name] : []));
    expect(oldSteps).toEqual(['draft', 'send']);
    const newJob = await stack.client.start(afterPatch, {});
    await expect(newJob.result({ timeout: '10s' })).resolves.toBe('sent by e-mail');
    const newSteps = (await events(stack, newJob.jobId)).flatMap((e) => (e.type === 'StepStarted' ? [e.name] : []));
    expect(newSteps).toEqual(['draft', 'sign', 'send']);
    await current.stop();
  });

  it('leaves a job to a worker that has the version it started on', async () => {
    const wrong = await stack.startWorker([v3] as never, { name: 'v3', ackWaitMs: 500 });
    const job = await stack.client.start(v2, {});
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect((await job.status()).status).toBe('running');
    expect((await events(stack, job.jobId)).map((e) => e.type)).toEqual(['JobStarted']);
    await wrong.stop();
    const right = await stack.startWorker([v2] as never, { name: 'v2', ackWaitMs: 500 });
    await expect(job.result({ timeout: '10s' })).resolves.toBe('v2 report');
    await right.stop();
  });

  it('hands a job it cannot run back less and less often, logging only some of the times', async () => {
    const lines: { deliveries?: number }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const wrong = await stack.startWorker([v3] as never, { name: 'v3-backoff', ackWaitMs: 200, logger });
    const job = await stack.client.start(v2, {});
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await wrong.stop();
    // Handed back after 200, 400, 800 and 1,600 ms: at most 4 deliveries in 2.5 s, not the 12 of
    // a fixed 200 ms; logged on the 1st, 2nd and 4th.
    const logged = lines.filter((line) => line.deliveries !== undefined).map((line) => line.deliveries);
    expect(logged.length).toBeGreaterThanOrEqual(2);
    expect(logged).toEqual([1, 2, 4].slice(0, logged.length));
    expect((await events(stack, job.jobId)).map((e) => e.type)).toEqual(['JobStarted']);
    const right = await stack.startWorker([v2] as never, { name: 'v2-after-backoff', ackWaitMs: 500 });
    await expect(job.result({ timeout: '15s' })).resolves.toBe('v2 report');
    await right.stop();
  });

  it('fails an attempt that misses its heartbeat, and keeps one that beats', async () => {
    const worker = await stack.startWorker([silent] as never);
    const job = await stack.client.start(silent, {});
    await expect(job.result({ timeout: '10s' })).resolves.toBe(2);
    const failed = (await events(stack, job.jobId)).find((e): e is Extract<JobEvent, { type: 'StepFailed' }> => e.type === 'StepFailed');
    expect(failed?.failure).toMatchObject({ name: 'StepHeartbeatError', message: expect.stringContaining('sent no heartbeat for 250 ms') });
    await worker.stop();
  });

  it('retries by the rule for the error, until the step deadline', async () => {
    const worker = await stack.startWorker([limited] as never);
    const job = await stack.client.start(limited, {});
    const error = await job.result({ timeout: '10s' }).catch((e: { failure: { message: string } }) => e);
    expect(error.failure.message).toMatch(/deadline of 400 ms would pass before attempt/);
    const attempts = (await events(stack, job.jobId)).filter((e) => e.type === 'StepStarted').length;
    // Far more than the policy's 2 attempts (the rule allows 20), stopped by the deadline.
    expect(attempts).toBeGreaterThan(2);
    expect(attempts).toBeLessThan(20);
    await worker.stop();
  });
});
