import type { Duration, StepFailed } from '@ratchet/protocol';
import { defineWorkflow, StepFailedError } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

/** Items each attempt of `import` processed, by job and attempt. */
const processed = new Map<string, number[][]>();

/**
 * Imports items 0–9, saying after each how far it got; its first attempt breaks after item 4.
 * A retry in the worker (short backoff) or through a durable timer (long backoff) carries on
 * from `lastHeartbeat` instead of starting over.
 */
const importer = defineWorkflow('importer', async (ctx, input: { backoff: Duration }) =>
  ctx.step(
    'import',
    ({ attempt, heartbeat, lastHeartbeat }) => {
      const runs = processed.get(ctx.jobId) ?? [];
      processed.set(ctx.jobId, runs);
      const done: number[] = [];
      runs.push(done);
      const from = ((lastHeartbeat as { next?: number } | undefined)?.next ?? 0) as number;
      for (let item = from; item < 10; item++) {
        if (attempt === 1 && item === 5) throw new Error('import service went away');
        done.push(item);
        heartbeat({ next: item + 1 });
      }
      return { imported: 10 - from, resumedAt: from };
    },
    { retry: { initialInterval: input.backoff, maximumAttempts: 3 } },
  ),
);

const careless = defineWorkflow('careless-heartbeat', async (ctx) => {
  try {
    return await ctx.step('beat', ({ heartbeat }) => heartbeat({ callback: () => 1 }), { retry: { maximumAttempts: 1 } });
  } catch (error) {
    return error instanceof StepFailedError ? String(error.cause) : 'no error';
  }
});

describe.each(STACK_KINDS)('heartbeat details on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
    await stack.startWorker([importer, careless] as never, { maxInProcessWaitMs: 500 });
  });
  afterAll(() => stack.close());

  for (const [how, backoff] of [
    ['in the worker', '50ms'],
    ['through a durable timer', '1s'],
  ] as const) {
    it(`are recorded with a failed attempt and handed to the next, which resumes (retry ${how})`, async () => {
      const job = await stack.client.start(importer, { backoff });
      await expect(job.result({ timeout: '15s' })).resolves.toEqual({ imported: 5, resumedAt: 5 });
      expect(processed.get(job.jobId)).toEqual([
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
      ]);
      const failed = (await stack.store.read(job.jobId)).map((e) => e.event).find((e): e is StepFailed => e.type === 'StepFailed');
      expect(failed).toMatchObject({ attempt: 1, heartbeat: { next: 5 } });
      const state = await stack.client.describe(job.jobId);
      expect(state.journal[0]).toMatchObject({ kind: 'step', attempts: [{ attempt: 1, heartbeat: { next: 5 } }, { attempt: 2 }] });
    });
  }

  it('refuse details that are not plain data, naming the problem where the step sends them', async () => {
    const job = await stack.client.start(careless, {});
    await expect(job.result({ timeout: '10s' })).resolves.toMatch(/heartbeat details of step "beat"/);
  });
});
