import { subjectsFor } from '@ratchet/protocol';
import { defineWorkflow, EngineClient, type JobFailedError } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const runs = new Map<string, number>();
const count = (key: string) => runs.set(key, (runs.get(key) ?? 0) + 1);

const hugeSleep = defineWorkflow('huge-sleep', async (ctx) => {
  await ctx.step('first', () => 1);
  await ctx.sleep(1e16);
  return 'woke';
});
const longTimeout = defineWorkflow('long-timeout', async (ctx) => ctx.step('x', () => 1, { timeout: '30d' }));
const caughtPolicy = defineWorkflow('caught-policy', async (ctx) => {
  try {
    await ctx.step('bad', () => 1, { retry: { maximumAttempts: 0 } });
  } catch {
    // The workflow carries on without that step.
  }
  return ctx.step('after', () => 'after');
});
const fractionalTimeout = defineWorkflow('fractional-timeout', async (ctx) => {
  const refused: string[] = [];
  for (const options of [{ timeout: 1.5 }, { heartbeatTimeout: '1.5ms' }, { timeout: 0 }] as const) {
    try {
      await ctx.step('bad', () => 1, options);
    } catch (error) {
      refused.push(`${(error as Error).name}: ${(error as Error).message}`);
    }
  }
  return { refused, after: await ctx.step('after', () => 'after', { timeout: '1.5s' }) };
});
const bigOutput = defineWorkflow('big-output', async (ctx) => ctx.step('blob', () => 'x'.repeat(600_000)));
const neighbour = defineWorkflow('neighbour', async (ctx, input: { tag: string }) => {
  for (let i = 0; i < 10; i++) await ctx.step(`n${i}`, () => count(`${input.tag}/n${i}`) && i);
  return 'ok';
});
// 150 steps of 8 KB: 1.2 MB of history, more than one message can carry.
const chatty = defineWorkflow('chatty', async (ctx) => {
  for (let i = 0; i < 150; i++) await ctx.step(`s${i}`, () => 'x'.repeat(8000));
  await ctx.sleep('300ms');
  return 'done';
});

const failureOf = async (stack: Stack, workflow: Parameters<Stack['client']['start']>[0]) => {
  const job = await stack.client.start(workflow, {});
  return ((await job.result({ timeout: '10s' }).catch((error: unknown) => error)) as JobFailedError).failure;
};

describe.each(STACK_KINDS)('limits on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
    await stack.startWorker([hugeSleep, longTimeout, caughtPolicy, fractionalTimeout, bigOutput, neighbour, chatty] as never, {
      name: 'first',
    });
  });
  afterAll(() => stack.close());

  it('fails a job that sleeps past the last time the log can hold, without disturbing its neighbours', async () => {
    const others = await Promise.all(Array.from({ length: 5 }, (_, i) => stack.client.start(neighbour, { tag: `${kind}-${i}` })));
    expect(await failureOf(stack, hugeSleep)).toMatchObject({
      name: 'RangeError',
      message: expect.stringContaining('ends after the latest time'),
    });
    await expect(Promise.all(others.map((job) => job.result({ timeout: '10s' })))).resolves.toEqual(Array(5).fill('ok'));
    expect([...runs].filter(([key, n]) => key.startsWith(kind) && n > 1)).toEqual([]);
  });

  it('refuses a step timeout longer than a timer can wait', async () => {
    expect(await failureOf(stack, longTimeout)).toMatchObject({
      name: 'RangeError',
      message: expect.stringContaining('the longest is 2147483647 ms'),
    });
  });

  it('refuses a step timeout that is not whole milliseconds of at least 1 at the call, so the workflow can go on', async () => {
    const job = await stack.client.start(fractionalTimeout, {});
    await expect(job.result({ timeout: '10s' })).resolves.toEqual({
      refused: [
        'RangeError: timeout of step "bad" must be a whole number of milliseconds, at least 1, got 1.5',
        'RangeError: heartbeatTimeout of step "bad" must be a whole number of milliseconds, at least 1, got 1.5',
        'RangeError: timeout of step "bad" must be a whole number of milliseconds, at least 1, got 0',
      ],
      after: 'after',
    });
  });

  it('lets the workflow go on after it caught an invalid retry policy', async () => {
    const job = await stack.client.start(caughtPolicy, {});
    await expect(job.result({ timeout: '10s' })).resolves.toBe('after');
  });

  it('fails a step whose output is too large, once, with the size in the error', async () => {
    expect(await failureOf(stack, bigOutput)).toMatchObject({
      name: 'StepFailedError',
      message: expect.stringContaining('output of step "blob" is 600005 bytes encoded; the limit is 262144 bytes'),
    });
  });

  it('refuses a start with a NUL in its version, and only that start', async () => {
    const engine = new EngineClient({ transport: stack.transport, subjects: subjectsFor(stack.prefix) });
    const results = await Promise.allSettled([
      engine.send({ type: 'StartJob', workflow: 'neighbour', input: { tag: 'nul' }, version: 'v\u0000' }),
      ...Array.from({ length: 10 }, (_, i) => engine.send({ type: 'StartJob', workflow: 'neighbour', input: { tag: `${kind}-nul-${i}` } })),
    ]);
    expect(results[0]).toMatchObject({
      status: 'rejected',
      reason: { name: 'InvalidMessageError', message: expect.stringContaining('NUL') },
    });
    expect(results.slice(1).every((result) => result.status === 'fulfilled')).toBe(true);
  });

  it('resumes a job whose history outgrew one message, on a worker that reads it all', async () => {
    const job = await stack.client.start(chatty, {});
    await expect.poll(async () => (await stack.store.read(job.jobId)).at(-1)?.event.type, { timeout: 15_000 }).toBe('TimerStarted');
    // A fresh worker has no cached state: it reads the whole 1.2 MB history, in pages.
    await stack.restart();
    await stack.startWorker([chatty] as never, { name: 'second' });
    await expect(job.result({ timeout: '15s' })).resolves.toBe('done');
  });
});
