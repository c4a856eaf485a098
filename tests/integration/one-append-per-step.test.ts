import type { JobEvent } from '@ratchet/protocol';
import { defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const tenSteps = defineWorkflow('ten-steps', async (ctx) => {
  let total = 0;
  for (let i = 0; i < 10; i++) total += await ctx.step(`step-${i}`, () => i);
  return total;
});

describe.each(STACK_KINDS)('appends on %s', (kind) => {
  let stack: Stack;
  const appends: (readonly JobEvent['type'][])[] = [];
  beforeAll(async () => {
    stack = await startStack(kind, { observer: ({ events }) => appends.push(events.map((e) => e.event.type)) });
    await stack.startWorker([tenSteps] as never);
  });
  afterAll(() => stack.close());

  it("puts a step's completion and the next step's start in one append", async () => {
    const job = await stack.client.start(tenSteps, {});
    await expect(job.result({ timeout: '10s' })).resolves.toBe(45);
    expect(appends).toEqual([
      ['JobStarted'],
      ['StepStarted'],
      ...Array.from({ length: 9 }, () => ['StepCompleted', 'StepStarted']),
      ['StepCompleted', 'JobCompleted'],
    ]);
  });
});
