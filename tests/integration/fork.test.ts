import { decode, encode, type JobStarted } from '@ratchet/protocol';
import { defineWorkflow, JobFailedError, NonRetryableError } from '@ratchet/sdk';
import type { Worker } from '@ratchet/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

/** How often each step really ran, by step name. */
const ran: Record<string, number> = {};
const count = (step: string) => {
  ran[step] = (ran[step] ?? 0) + 1;
};
/** Starts counting afresh, at 0 for each of `steps`. */
const resetCounts = (...steps: string[]) => {
  for (const step of Object.keys(ran)) delete ran[step];
  for (const step of steps) ran[step] = 0;
};

// The code as deployed when the job ran: step c fails for good.
const broken = defineWorkflow('pipeline', async (ctx, input: { base: number }) => {
  const a = await ctx.step('a', () => {
    count('a');
    return input.base + 1;
  });
  const b = await ctx.step('b', () => {
    count('b');
    return a * 10;
  });
  return ctx.step('c', (): number => {
    count('c');
    throw new NonRetryableError(`c cannot handle ${b}`);
  });
});

// The fixed code: c now succeeds.
const fixed = defineWorkflow('pipeline', async (ctx, input: { base: number }) => {
  const a = await ctx.step('a', () => {
    count('a');
    return input.base + 1;
  });
  const b = await ctx.step('b', () => {
    count('b');
    return a * 10;
  });
  return ctx.step('c', () => {
    count('c');
    return `c got ${b}`;
  });
});

/** A sleep, then two steps in parallel, then an end that fails until fixed. */
const napper = (fixedEnd: boolean) =>
  defineWorkflow('napper', async (ctx) => {
    const first = await ctx.step('first', () => {
      count('first');
      return 1;
    });
    await ctx.sleep('50ms');
    const [slow, quick] = await Promise.all([
      ctx.step('slow', async () => {
        count('slow');
        await new Promise((resolve) => setTimeout(resolve, 200));
        return 's';
      }),
      ctx.step('quick', () => {
        count('quick');
        return 'q';
      }),
    ]);
    return ctx.step('end', () => {
      if (!fixedEnd) throw new NonRetryableError('not yet');
      return `${first}${slow}${quick}`;
    });
  });

describe.each(STACK_KINDS)('forking a job (%s)', (kind) => {
  let stack: Stack;
  let failedJobId: string;
  beforeAll(async () => {
    stack = await startStack(kind);
    const worker: Worker = await stack.startWorker([broken, napper(false)] as never);
    const job = await stack.client.start(broken, { base: 1 });
    failedJobId = job.jobId;
    await expect(job.result({ timeout: '10s' })).rejects.toBeInstanceOf(JobFailedError);
    const napped = await stack.client.start(napper(false), undefined, { jobId: `napper-${kind.replace('+', '-')}` });
    await expect(napped.result({ timeout: '10s' })).rejects.toBeInstanceOf(JobFailedError);
    await worker.stop();
    // The fix is deployed.
    await stack.startWorker([fixed, napper(true)] as never);
  });
  afterAll(() => stack.close());

  it('runs from the chosen step on the new code, reusing what came before it', async () => {
    resetCounts('a', 'b', 'c');
    const fork = await stack.client.fork<string>(failedJobId, { from: 'b' });
    expect(fork.jobId).not.toBe(failedJobId);
    await expect(fork.result({ timeout: '10s' })).resolves.toBe('c got 20');
    expect(ran).toEqual({ a: 0, b: 1, c: 1 });

    const events = await stack.store.read(fork.jobId);
    const started = events[0]?.event as JobStarted;
    expect(started).toMatchObject({ type: 'JobStarted', workflow: 'pipeline', input: { base: 1 }, epoch: 1 });
    // The source's seq 1 is its start, 2-3 step a: the prefix ends at seq 3, and 2 events were copied.
    expect(started.forkedFrom).toEqual({ jobId: failedJobId, step: 'b', seq: 3, events: 2 });
    expect(events.slice(1, 3).map((e) => e.event.type)).toEqual(['StepStarted', 'StepCompleted']);
    const state = await stack.client.describe(fork.jobId);
    expect(state.forkedFrom).toMatchObject({ jobId: failedJobId, step: 'b' });
    expect(state.journal.map((entry) => (entry.kind === 'step' ? [entry.name, entry.status] : entry.kind))).toEqual([
      ['a', 'completed'],
      ['b', 'completed'],
      ['c', 'completed'],
    ]);
    // The source is untouched.
    expect((await stack.client.handle(failedJobId).status()).status).toBe('failed');
  });

  it('uses a replaced step result in place of the recorded one', async () => {
    resetCounts('a', 'b', 'c');
    const fork = await stack.client.fork<string>(failedJobId, { from: 'b', setOutputs: { a: 7 }, jobId: `${failedJobId}.fork-7` });
    expect(fork.jobId).toBe(`${failedJobId}.fork-7`);
    await expect(fork.result({ timeout: '10s' })).resolves.toBe('c got 70');
    expect(ran).toEqual({ a: 0, b: 1, c: 1 });
    const started = (await stack.store.read(fork.jobId))[0]?.event as JobStarted;
    expect(started.forkedFrom).toMatchObject({ outputs: { a: 7 } });
  });

  it('forks from the first step (nothing reused) and from the failed step itself', async () => {
    resetCounts('a', 'b', 'c');
    await expect((await stack.client.fork(failedJobId, { from: 'a' })).result({ timeout: '10s' })).resolves.toBe('c got 20');
    expect(ran).toEqual({ a: 1, b: 1, c: 1 });
    await expect((await stack.client.fork(failedJobId, { from: 'c' })).result({ timeout: '10s' })).resolves.toBe('c got 20');
    expect(ran).toEqual({ a: 1, b: 1, c: 2 });
  });

  it('carries a fired sleep over and runs a parallel step that was still running at the cut again', async () => {
    resetCounts('first', 'slow', 'quick');
    const sourceId = `napper-${kind.replace('+', '-')}`;
    const fork = await stack.client.fork<string>(sourceId, { from: 'quick' });
    await expect(fork.result({ timeout: '10s' })).resolves.toBe('1sq');
    expect(ran).toEqual({ first: 0, slow: 1, quick: 1 });
    const events = await stack.store.read(fork.jobId);
    const origin = (events[0]?.event as JobStarted | undefined)?.forkedFrom;
    const copied = events.slice(1, 1 + (origin?.events ?? 0)).map((e) => e.event);
    // first (started, completed), the sleep (started, fired at the fork's epoch 2); slow's open attempt is not copied.
    expect(copied.map((e) => e.type)).toEqual(['StepStarted', 'StepCompleted', 'TimerStarted', 'TimerFired']);
    expect(copied[3]).toMatchObject({ type: 'TimerFired', timerId: 'sleep:1', epoch: 2 });
    expect(events.some((e) => e.event.type === 'JobClaimed')).toBe(false);
    const state = await stack.client.describe(fork.jobId);
    expect(state.journal.map((entry) => (entry.kind === 'step' ? `${entry.name}:${entry.attempts.length}` : entry.kind))).toEqual([
      'first:1',
      'sleep',
      'slow:1',
      'quick:1',
      'end:1',
    ]);
  });

  it('refuses a step the job does not have, naming the steps it has', async () => {
    await expect(stack.client.fork(failedJobId, { from: 'nope' })).rejects.toMatchObject({
      name: 'UnknownStepError',
      message: `job ${failedJobId} has no step "nope" (its steps: a, b, c)`,
    });
    await expect(stack.client.fork(failedJobId, { from: 'b', setOutputs: { c: 1 } })).rejects.toMatchObject({
      name: 'UnknownStepError',
      message: `cannot set the output of step "c": it is not before step "b" in job ${failedJobId} (steps before it: a)`,
    });
  });

  it('records the version asked for (workers that run it take the fork)', async () => {
    const fork = await stack.client.fork(failedJobId, { from: 'b', version: 'next' });
    const state = await stack.client.describe(fork.jobId);
    expect(state).toMatchObject({ version: 'next', status: 'running', forkedFrom: { jobId: failedJobId, step: 'b' } });
    // No worker here has version "next": end it.
    await stack.client.terminate(fork.jobId);
  });

  it('refuses a malformed fork command, naming the field', async () => {
    const reply = decode(await stack.engine.handleCommand(encode({ type: 'ForkJob', jobId: failedJobId, from: '' }))) as {
      ok: boolean;
      error: { name: string; message: string };
    };
    expect(reply).toMatchObject({ ok: false, error: { name: 'InvalidMessageError', message: 'command ForkJob.from must name a step' } });
    const badId = decode(
      await stack.engine.handleCommand(encode({ type: 'ForkJob', jobId: failedJobId, from: 'b', forkJobId: 'bad id' })),
    ) as { error: { message: string } };
    expect(badId.error.message).toContain('command ForkJob.forkJobId jobId "bad id" must be 1-200 characters');
  });

  it('refuses to fork a job that does not exist, or into a job that does', async () => {
    await expect(stack.client.fork('no-such-job', { from: 'a' })).rejects.toMatchObject({
      name: 'JobNotFoundError',
      message: 'no job no-such-job',
    });
    await expect(stack.client.fork(failedJobId, { from: 'b', jobId: failedJobId })).rejects.toMatchObject({
      name: 'InvalidForkError',
    });
    await expect(stack.client.fork(failedJobId, { from: 'b', jobId: `${failedJobId}.fork-7` })).rejects.toMatchObject({
      name: 'JobExistsError',
    });
  });
});
