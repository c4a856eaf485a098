import { Engine } from '@ratchet/engine';
import { decode, encode, type Reply, subjectsFor } from '@ratchet/protocol';
import { Client, defineWorkflow } from '@ratchet/sdk';
import { Worker } from '@ratchet/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietLogger, STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const echo = defineWorkflow('echo', async (ctx, input: { text: string }) => ctx.step('echo', () => input.text));

describe.each(STACK_KINDS)('bad input on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind, { maxPayloadBytes: 64 * 1024 });
    await stack.startWorker([echo] as never);
  });
  afterAll(() => stack.close());

  const ask = async (payload: Uint8Array) =>
    decode(await stack.transport.request(subjectsFor(stack.prefix).commands, payload, { timeoutMs: 5000 })) as Reply<unknown>;

  it('answers malformed and oversized commands with errors that name the problem, and keeps serving', async () => {
    await expect(ask(new Uint8Array([0xc1, 0xff, 0x00]))).resolves.toMatchObject({ ok: false, error: { name: 'CodecError' } });
    await expect(ask(new TextEncoder().encode('{"type":"StartJob"}'))).resolves.toMatchObject({ ok: false, error: { name: 'CodecError' } });
    await expect(ask(encode({ type: 'StartJob' }))).resolves.toMatchObject({
      ok: false,
      error: { name: 'InvalidMessageError', message: 'command StartJob is missing workflow' },
    });
    await expect(ask(new Uint8Array(100 * 1024))).resolves.toMatchObject({
      ok: false,
      error: { name: 'PayloadTooLargeError', message: expect.stringContaining('102400 bytes exceeds the limit of 65536 bytes') },
    });
    const job = await stack.client.start(echo, { text: 'still here' });
    await expect(job.result({ timeout: '10s' })).resolves.toBe('still here');
  });

  it('drops a malformed task and ignores a malformed announcement without losing a job', async () => {
    const subjects = subjectsFor(stack.prefix);
    await stack.transport.publishTask({ stream: subjects.taskStream, subject: subjects.tasks }, new Uint8Array([1, 2, 3]), 'garbage-1');
    await stack.transport.publishTask({ stream: subjects.taskStream, subject: subjects.tasks }, encode({ type: 'Nope' }), 'garbage-2');
    stack.transport.publish(subjects.announcements, new Uint8Array([0xc1]));
    const jobs = await Promise.all(['a', 'b', 'c'].map((text) => stack.client.start(echo, { text })));
    await expect(Promise.all(jobs.map((job) => job.result({ timeout: '10s' })))).resolves.toEqual(['a', 'b', 'c']);
  });

  it('refuses a prefix that could share its task stream with another, and a task stream that holds other subjects', async () => {
    // `T1A2` and `t1a2`, `a_b` and `a-b` would name one stream; whichever started second took it over.
    for (const prefix of [stack.prefix.toUpperCase(), `${stack.prefix}_b`, '', 'a.b']) {
      const rule = `prefix ${JSON.stringify(prefix)} must be 1-64 lowercase letters, digits or '-'`;
      expect(() => new Engine({ store: stack.store, transport: stack.transport, prefix })).toThrow(rule);
      expect(() => new Worker({ transport: stack.transport, prefix, workflows: [echo] as never })).toThrow(rule);
      expect(() => new Client({ transport: stack.transport, prefix })).toThrow(rule);
    }
    // A stream of the name this prefix's would have, holding another subject: someone else's.
    const prefix = `${stack.prefix}-other`;
    const { taskStream, tasks } = subjectsFor(prefix);
    await stack.transport.ensureTaskQueue({ stream: taskStream, subject: `${stack.prefix}.elsewhere` });
    const refusal = `stream ${taskStream} exists with subjects ["${stack.prefix}.elsewhere"], not ["${tasks}"]`;
    const engine = new Engine({ store: stack.store, transport: stack.transport, prefix, logger: quietLogger() });
    await expect(engine.start()).rejects.toThrow(refusal);
    await engine.stop();
    const worker = new Worker({ transport: stack.transport, prefix, workflows: [echo] as never, logger: quietLogger() });
    await expect(worker.start()).rejects.toThrow(refusal);
    await stack.transport.publishTask({ stream: taskStream, subject: `${stack.prefix}.elsewhere` }, encode({ type: 'Nope' }), 'kept');
    const job = await stack.client.start(echo, { text: 'unaffected' });
    await expect(job.result({ timeout: '10s' })).resolves.toBe('unaffected');
  });

  it('refuses a start whose execution timeout would end after the latest time the log holds, or is 0', async () => {
    // 100000000d is the latest time itself: from now it ends after it, and no export of it would replay.
    const refused = await stack.client.start(echo, { text: 'x' }, { timeout: '100000000d', jobId: 'too-long' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({
      name: 'InvalidTimeoutError',
      message: expect.stringContaining('timeout 8640000000000000 ms must be at least 1 ms and end by the latest time the log holds'),
    });
    await expect(
      ask(encode({ type: 'StartJob', workflow: 'echo', input: { text: 'x' }, jobId: 'zero', timeoutMs: 0 })),
    ).resolves.toMatchObject({
      ok: false,
      error: { name: 'InvalidTimeoutError', message: expect.stringContaining('timeout 0 ms must be at least 1 ms') },
    });
    for (const jobId of ['too-long', 'zero'])
      await expect(stack.client.describe(jobId)).rejects.toMatchObject({ name: 'JobNotFoundError' });
    const job = await stack.client.start(echo, { text: 'in time' }, { timeout: '1d' });
    await expect(job.result({ timeout: '10s' })).resolves.toBe('in time');
  });

  it('refuses an invalid job id and a step output that cannot be stored', async () => {
    await expect(stack.client.start(echo, { text: 'x' }, { jobId: 'has spaces' })).rejects.toThrow(
      /jobId "has spaces" must be 1-200 characters/,
    );
    const unstorable = defineWorkflow('unstorable', async (ctx) =>
      ctx.step('returns-a-function', () => () => 1, { retry: { maximumAttempts: 3 } }),
    );
    const worker = await stack.startWorker([unstorable] as never);
    const job = await stack.client.start(unstorable, {});
    await expect(job.result({ timeout: '10s' })).rejects.toMatchObject({
      failure: { name: 'StepFailedError', message: expect.stringContaining('output of step "returns-a-function" is a function') },
    });
    // Not retried: the same code would return the same unstorable value.
    const started = (await stack.store.read(job.jobId)).filter((e) => e.event.type === 'StepStarted');
    expect(started).toHaveLength(1);
    await worker.stop();
  });
});
