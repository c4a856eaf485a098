import { encode, subjectsFor, taskMessageId } from '@ratchet/protocol';
import { defineWorkflow, EngineClient } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

/** Counts real executions of each step, by job and step name. */
const executions = new Map<string, number>();
const count = (key: string) => executions.set(key, (executions.get(key) ?? 0) + 1);

const slowSteps = defineWorkflow('slow-steps', async (ctx, input: { tag: string }) => {
  for (const name of ['one', 'two', 'three']) {
    await ctx.step(name, async () => {
      count(`${input.tag}/${name}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      return name;
    });
  }
  return 'done';
});

const napper = defineWorkflow('napper', async (ctx) => {
  await ctx.step('before', () => 'x');
  await ctx.sleep('1h');
  return 'woke';
});

describe.each(STACK_KINDS)('fencing on %s', (kind) => {
  let stack: Stack;
  let engine: EngineClient;
  beforeAll(async () => {
    stack = await startStack(kind);
    // Two workers, so a duplicate task can land on the worker that does not hold the job.
    await stack.startWorker([slowSteps, napper] as never, { name: 'worker-a' });
    await stack.startWorker([slowSteps, napper] as never, { name: 'worker-b' });
    engine = new EngineClient({ transport: stack.transport, subjects: subjectsFor(stack.prefix) });
  });
  afterAll(() => stack.close());

  it('rejects an append carrying a stale epoch and writes nothing', async () => {
    const job = await stack.client.start(napper, {});
    // Wait until the job is parked on its sleep (epoch 1).
    await expect.poll(async () => (await stack.store.read(job.jobId)).at(-1)?.event.type, { timeout: 10_000 }).toBe('TimerStarted');
    const before = await job.status();
    const claim = await engine.send({ type: 'ClaimJob', jobId: job.jobId, epoch: before.epoch, worker: 'test' });
    expect(claim.epoch).toBe(before.epoch + 1);
    const stale = engine.send({
      type: 'AppendEvents',
      jobId: job.jobId,
      expectedSeq: claim.lastSeq,
      epoch: before.epoch,
      events: [{ type: 'JobCompleted', output: 'forged', completedAt: Date.now() }],
    });
    await expect(stale).rejects.toMatchObject({
      name: 'StaleEpochError',
      message: expect.stringContaining(`moved on to epoch ${claim.epoch}`),
    });
    const after = await job.status();
    expect(after).toMatchObject({ status: 'running', lastSeq: claim.lastSeq, epoch: claim.epoch });
    // A second claim at the old epoch loses too.
    await expect(engine.send({ type: 'ClaimJob', jobId: job.jobId, epoch: before.epoch, worker: 'late' })).rejects.toMatchObject({
      name: 'StaleEpochError',
    });
  });

  it('refuses malformed and engine-only events from a worker', async () => {
    const job = await stack.client.start(napper, {});
    await expect.poll(async () => (await stack.store.read(job.jobId)).at(-1)?.event.type, { timeout: 10_000 }).toBe('TimerStarted');
    const { epoch, lastSeq } = await job.status();
    const append = (events: unknown[]) =>
      engine.send({ type: 'AppendEvents', jobId: job.jobId, expectedSeq: lastSeq, epoch, events } as never);
    await expect(append([{ type: 'TimerFired', timerId: 'sleep:1', epoch: epoch + 1, firedAt: 0 }])).rejects.toMatchObject({
      name: 'EngineEventError',
    });
    await expect(append([{ type: 'StepCompleted', stepId: 0 }])).rejects.toMatchObject({
      name: 'InvalidMessageError',
      message: expect.stringContaining('missing attempt'),
    });
    await expect(append([{ type: 'StepCompleted', stepId: 0, attempt: 1, output: 1, completedAt: 0 }])).rejects.toMatchObject({
      name: 'IllegalTransitionError',
    });
    await expect(
      engine.send({ type: 'AppendEvents', jobId: job.jobId, expectedSeq: lastSeq - 1, epoch, events: [] }),
    ).rejects.toMatchObject({ name: 'SeqConflictError' });
    expect((await job.status()).lastSeq).toBe(lastSeq);
  });

  it('does not run a step twice when the same AdvanceJob is delivered twice', async () => {
    const tag = `dup-${kind}`;
    const job = await stack.client.start(slowSteps, { tag });
    const queue = { stream: subjectsFor(stack.prefix).taskStream, subject: subjectsFor(stack.prefix).tasks };
    const task = { type: 'AdvanceJob', jobId: job.jobId, epoch: 1 } as const;
    // While step "one" runs: the same task again (under another message id, so the queue does not drop it).
    await expect.poll(() => executions.get(`${tag}/one`), { timeout: 10_000 }).toBe(1);
    await stack.transport.publishTask(queue, encode(task), `${taskMessageId(task)}:again`);
    await expect(job.result({ timeout: '15s' })).resolves.toBe('done');
    // And once more after it finished.
    await stack.transport.publishTask(queue, encode(task), `${taskMessageId(task)}:late`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect([1, 2, 3].map((i) => executions.get(`${tag}/${['one', 'two', 'three'][i - 1]}`))).toEqual([1, 1, 1]);
    const started = (await stack.store.read(job.jobId)).filter((e) => e.event.type === 'StepStarted');
    expect(started).toHaveLength(3);
  });
});
