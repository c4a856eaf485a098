import { defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const invoice = defineWorkflow('invoice-run', async (ctx, input: { fail: boolean }) =>
  ctx.step(
    'send',
    () => {
      if (input.fail) throw new Error('mail server down');
      return 'sent';
    },
    { retry: { maximumAttempts: 1 } },
  ),
);

describe.each(STACK_KINDS)('a new run of a failed job on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
    await stack.startWorker([invoice] as never);
  });
  afterAll(() => stack.close());

  it('starts in the same log when asked to, and attaches to a job that did not fail', async () => {
    const jobId = `invoice-${kind.length}`;
    const first = await stack.client.start(invoice, { fail: true }, { jobId });
    await expect(first.result({ timeout: '10s' })).rejects.toMatchObject({ failure: { name: 'StepFailedError' } });
    // The default attaches to the failed job; asking for a new run starts one.
    expect((await stack.client.start(invoice, { fail: false }, { jobId })).jobId).toBe(jobId);
    expect((await stack.client.handle(jobId).status()).status).toBe('failed');
    const second = await stack.client.start(invoice, { fail: false }, { jobId, onExisting: 'new-run-if-failed' });
    await expect(second.result({ timeout: '10s' })).resolves.toBe('sent');
    const runs = (await stack.store.read(jobId)).filter((e) => e.event.type === 'JobStarted').map((e) => e.event);
    expect(runs).toMatchObject([
      { epoch: 1, input: { fail: true } },
      { epoch: 2, input: { fail: false } },
    ]);
    // A job that completed is not run again.
    await stack.client.start(invoice, { fail: false }, { jobId, onExisting: 'new-run-if-failed' });
    expect((await stack.store.read(jobId)).filter((e) => e.event.type === 'JobStarted')).toHaveLength(2);
  });
});
