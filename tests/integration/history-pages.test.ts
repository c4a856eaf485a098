import { foldEvents, type JobEvent, type JobState, jobRowOf, resolveRetryPolicy, subjectsFor } from '@ratchet/protocol';
import { EngineClient, readWholeHistory } from '@ratchet/sdk';
import type { EventStore } from '@ratchet/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const policy = resolveRetryPolicy({});
const T0 = Date.UTC(2026, 10, 22, 3, 0, 0);

/** Writes a job's log straight to the store, as an engine would have: a start, then `steps` steps of `outputBytes`. */
async function writeLog(store: EventStore, jobId: string, steps: number, outputBytes: number): Promise<number> {
  const log: JobEvent[] = [{ type: 'JobStarted', workflow: 'pages', version: '1', input: {}, epoch: 1, startedAt: T0 }];
  for (let stepId = 0; stepId < steps; stepId++) {
    log.push(
      { type: 'StepStarted', stepId, name: `s${stepId}`, attempt: 1, startedAt: T0 + stepId, worker: 'w', epoch: 1, policy },
      { type: 'StepCompleted', stepId, attempt: 1, output: { n: stepId, pad: 'x'.repeat(outputBytes) }, completedAt: T0 + stepId },
    );
  }
  let state: JobState | undefined;
  for (let from = 0; from < log.length; from += 500) {
    const events = log.slice(from, from + 500);
    const expectedSeq = state?.lastSeq ?? 0;
    state = foldEvents(
      jobId,
      events.map((event, i) => ({ seq: expectedSeq + i + 1, recordedAt: T0, event })),
      state,
    );
    const [result] = await store.append([
      { jobId, expectedSeq, events, recordedAt: T0, job: jobRowOf(state), timers: { added: [], removed: [] } },
    ]);
    expect(result?.ok).toBe(true);
  }
  return log.length;
}

describe.each(STACK_KINDS)('reading a long history in pages on %s', (kind) => {
  let stack: Stack;
  let engine: EngineClient;
  beforeAll(async () => {
    stack = await startStack(kind);
    engine = new EngineClient({ transport: stack.transport, subjects: subjectsFor(stack.prefix) });
  });
  afterAll(() => stack.close());

  it.each([
    ['small events: pages of 2,500, asked for ahead', 'small', 4_000, 10],
    ['large events: pages cut short by their size', 'large', 300, 6_000],
  ])('returns every event once, in order (%s)', async (_, jobId, steps, outputBytes) => {
    const count = await writeLog(stack.store, jobId, steps, outputBytes);
    for (const afterSeq of [0, 1, 2_499, count - 3]) {
      const { job, events } = await readWholeHistory(engine, jobId, afterSeq);
      expect(job.lastSeq).toBe(count);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: count - afterSeq }, (_, i) => afterSeq + i + 1));
      expect(events).toEqual(await stack.store.read(jobId, afterSeq));
    }
  });
});
