import { decode, encode, type Reply, subjectsFor } from '@ratchet/protocol';
import { defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

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
