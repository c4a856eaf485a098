import { defineWorkflow, JobFailedError } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const greet = defineWorkflow('greet', async (ctx, input: { name: string }) => {
  const greeting = await ctx.step('compose', () => `Hello, ${input.name}`);
  const stamp = ctx.now();
  const id = ctx.uuid();
  const shout = await ctx.step('shout', () => greeting.toUpperCase());
  return { greeting, shout, stamped: stamp > 0, idLength: id.length };
});

const broken = defineWorkflow('broken', async (ctx) => {
  await ctx.step('ok', () => 1);
  await ctx.step(
    'explode',
    () => {
      throw new Error('the warehouse is on fire');
    },
    { retry: { maximumAttempts: 1 } },
  );
  return 'unreachable';
});

const badPolicy = defineWorkflow('bad-policy', async (ctx) => ctx.step('x', () => 1, { retry: { maximumAttempts: -1 } }));

describe.each(STACK_KINDS)('start to result on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
    await stack.startWorker([greet, broken, badPolicy] as never);
  });
  afterAll(() => stack.close());

  it('runs a job to its result and records every step', async () => {
    const job = await stack.client.start(greet, { name: 'Ada' });
    await expect(job.result({ timeout: '10s' })).resolves.toEqual({
      greeting: 'Hello, Ada',
      shout: 'HELLO, ADA',
      stamped: true,
      idLength: 36,
    });
    const status = await job.status();
    expect(status).toMatchObject({ status: 'completed', workflow: 'greet', version: '1', epoch: 1 });
    const events = await stack.store.read(job.jobId);
    expect(events.map((e) => e.event.type)).toEqual([
      'JobStarted',
      'StepStarted',
      'StepCompleted',
      'ValueRecorded',
      'ValueRecorded',
      'StepStarted',
      'StepCompleted',
      'JobCompleted',
    ]);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('returns the existing job when started again with the same jobId', async () => {
    const first = await stack.client.start(greet, { name: 'Bob' }, { jobId: `order-${kind.length}-1` });
    const second = await stack.client.start(greet, { name: 'someone else' }, { jobId: first.jobId });
    expect(second.jobId).toBe(first.jobId);
    await expect(second.result({ timeout: '10s' })).resolves.toMatchObject({ greeting: 'Hello, Bob' });
    const started = (await stack.store.read(first.jobId)).filter((e) => e.event.type === 'JobStarted');
    expect(started).toHaveLength(1);
  });

  it('fails the job with the step error, which the caller sees as JobFailedError', async () => {
    const job = await stack.client.start(broken, {});
    const error = await job.result({ timeout: '10s' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobFailedError);
    expect((error as JobFailedError).failure).toMatchObject({ name: 'StepFailedError' });
    expect((error as Error).message).toMatch(/step "explode" failed after 1 attempt .*the warehouse is on fire/);
  });

  it('fails a job whose step has an invalid retry policy, naming the field', async () => {
    const job = await stack.client.start(badPolicy, {});
    const error = (await job.result({ timeout: '10s' }).catch((e: unknown) => e)) as JobFailedError;
    expect(error.failure).toMatchObject({
      name: 'InvalidRetryPolicyError',
      message: expect.stringContaining('maximumAttempts must be an integer >= 1, got -1'),
    });
  });

  it('refuses a workflow no worker has, and input that cannot be stored, with clear errors', async () => {
    await expect(stack.client.start('no-such-workflow', {})).rejects.toMatchObject({
      name: 'UnknownWorkflowError',
      message: expect.stringContaining('no running worker has workflow "no-such-workflow" (known: bad-policy, broken, greet)'),
    });
    await expect(stack.client.start(greet, { name: 'x', callback: () => 1 } as never)).rejects.toThrow(
      'input of workflow "greet".callback is a function',
    );
    await expect(stack.client.handle('missing-job').status()).rejects.toMatchObject({ name: 'JobNotFoundError' });
  });
});
