import { defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const slowpoke = defineWorkflow(
  'slowpoke',
  async (ctx) => {
    await ctx.sleep('1h');
    return 'too late';
  },
  { timeout: '400ms' },
);

const chatty = defineWorkflow('chatty-steps', async (ctx) => {
  for (let i = 0; i < 30; i++) await ctx.step(`s${i}`, () => i);
  return 'done';
});

describe.each(STACK_KINDS)('job limits on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind, { historyLimit: 20 });
    await stack.startWorker([slowpoke, chatty] as never);
  });
  afterAll(() => stack.close());

  it('fails a job that outlives its execution timeout', async () => {
    const job = await stack.client.start(slowpoke, {});
    await expect(job.result({ timeout: '10s' })).rejects.toMatchObject({
      failure: { name: 'WorkflowTimeoutError', message: expect.stringContaining('did not finish within its execution timeout') },
    });
  });

  it('warns in the log as a job nears its history limit, and fails it at the limit', async () => {
    const job = await stack.client.start(chatty, {});
    await expect(job.result({ timeout: '10s' })).rejects.toMatchObject({ failure: { name: 'HistoryLimitError' } });
    const events = (await stack.store.read(job.jobId)).map((e) => e.event.type);
    expect(events).toContain('HistoryWarned');
    expect(events.length).toBeLessThanOrEqual(21);
    expect(events.at(-1)).toBe('JobFailed');
  });
});
