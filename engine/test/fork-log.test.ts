import { foldEvents, type JobEvent, type RecordedEvent, resolveRetryPolicy } from '@ratchet/protocol';
import { describe, expect, it } from 'vitest';
import { forkLog } from '../src/fork-log.ts';

const policy = resolveRetryPolicy({ maximumAttempts: 3, initialInterval: 100 });
const recorded = (events: JobEvent[]): RecordedEvent[] => events.map((event, i) => ({ seq: i + 1, recordedAt: 1000 + i, event }));
const started: JobEvent = { type: 'JobStarted', workflow: 'order', version: '3', input: { id: 1 }, epoch: 1, startedAt: 1000 };
const stepStarted = (stepId: number, name: string, attempt: number, epoch = 1, worker = 'w1'): JobEvent => ({
  type: 'StepStarted',
  stepId,
  name,
  attempt,
  startedAt: 1000 + stepId,
  worker,
  epoch,
  ...(attempt === 1 ? { policy } : {}),
});
const completed = (stepId: number, output: unknown, attempt = 1): JobEvent => ({
  type: 'StepCompleted',
  stepId,
  attempt,
  output,
  completedAt: 1100,
});
const request = { sourceId: 'src', forkId: 'fork', now: 9000 };
/** The fork's events as its log records them, and the state they fold to. */
const forked = (events: JobEvent[], from: string, extra: { setOutputs?: Record<string, unknown> } = {}) => {
  const plan = forkLog(recorded(events), { ...request, from, ...extra });
  return { ...plan, state: foldEvents('fork', recorded(plan.events)) };
};

describe('the log of a forked job', () => {
  it('leaves the source claims out and renumbers epochs in its own sequence', () => {
    const lost = { name: 'WorkerLostError', message: 'gone' };
    const { events, state, origin } = forked(
      [
        started,
        stepStarted(0, 'a', 1, 1, 'w1'),
        { type: 'JobClaimed', epoch: 2, worker: 'w2', claimedAt: 1200 },
        { type: 'StepFailed', stepId: 0, attempt: 1, failure: lost, failedAt: 1200, final: false },
        { type: 'StepRetryScheduled', stepId: 0, attempt: 2, at: 1200, durable: false },
        stepStarted(0, 'a', 2, 2, 'w2'),
        completed(0, 'A', 2),
        { type: 'TimerStarted', position: 1, fireAt: 2000 },
        { type: 'TimerFired', timerId: 'sleep:1', epoch: 3, firedAt: 2001 },
        { type: 'HistoryWarned', limit: 10, warnedAt: 2002 },
        stepStarted(2, 'b', 1, 3, 'w2'),
        { type: 'StepFailed', stepId: 2, attempt: 1, failure: { name: 'Error', message: 'no' }, failedAt: 2100, final: true },
        { type: 'JobFailed', failure: { name: 'Error', message: 'no' }, failedAt: 2101 },
      ],
      'b',
    );
    expect(events.map((e) => e.type)).toEqual([
      'JobStarted',
      'StepStarted',
      'StepFailed',
      'StepRetryScheduled',
      'StepStarted',
      'StepCompleted',
      'TimerStarted',
      'TimerFired',
    ]);
    expect(events[0]).toMatchObject({ workflow: 'order', version: '3', input: { id: 1 }, epoch: 1, startedAt: 9000 });
    expect(origin).toEqual({ jobId: 'src', step: 'b', seq: 10, events: 7 });
    // Attempts keep the worker that ran them, under the fork's epoch at that point.
    expect(events[4]).toMatchObject({ worker: 'w2', epoch: 1 });
    expect(events[7]).toMatchObject({ type: 'TimerFired', epoch: 2 });
    expect(state).toMatchObject({ status: 'running', epoch: 2, timers: {}, forkedFrom: origin });
    expect(state.journal).toMatchObject([
      { kind: 'step', name: 'a', status: 'completed', output: 'A' },
      { kind: 'sleep', fired: true },
    ]);
  });

  it('runs attempts that were open at the cut again', () => {
    const { events, state } = forked(
      [
        started,
        stepStarted(0, 'slow', 1),
        stepStarted(1, 'fast', 1),
        completed(1, 'F'),
        stepStarted(2, 'tail', 1),
        stepStarted(3, 'next', 1),
      ],
      'next',
    );
    // "tail" ends the journal: it is left out and made again; "slow" has "fast" after it, so
    // its attempt is recorded as cut off and retried at once.
    expect(state.journal).toHaveLength(2);
    expect(state.journal[0]).toMatchObject({ name: 'slow', status: 'retrying', retryAt: 9000, retryDurable: false });
    expect(events.at(-2)).toMatchObject({ type: 'StepFailed', stepId: 0, failure: { name: 'ForkCutError' }, final: false });
    // Copied: the start of slow, fast's start and end; then the fork's own ending of slow's attempt.
    expect(state.forkedFrom?.events).toBe(3);
    expect(state.journal[1]).toMatchObject({ name: 'fast', status: 'completed' });
  });

  it('runs an open retry again as the same attempt, wherever it stands', () => {
    const failure = { name: 'Error', message: 'flaky' };
    const { events, state } = forked(
      [
        started,
        stepStarted(0, 'flaky', 1),
        stepStarted(1, 'other', 1),
        { type: 'StepFailed', stepId: 0, attempt: 1, failure, failedAt: 1100, final: false },
        { type: 'StepRetryScheduled', stepId: 0, attempt: 2, at: 1200, durable: false },
        stepStarted(0, 'flaky', 2),
        completed(1, 'O'),
        stepStarted(2, 'next', 1),
      ],
      'next',
    );
    expect(events.filter((e) => e.type === 'StepStarted')).toHaveLength(2);
    expect(state.journal[0]).toMatchObject({ name: 'flaky', status: 'retrying', retryAt: 1200, attempts: [{ attempt: 1 }] });
    expect(state.journal[1]).toMatchObject({ name: 'other', status: 'completed' });
  });

  it('gives a child still running its own new child, keeps pending timers, drops an undelivered cancellation', () => {
    const { events, state } = forked(
      [
        { ...started, deadline: 61_000 } as JobEvent,
        { type: 'ChildStarted', position: 0, childJobId: 'src.c0', workflow: 'kid', input: 1, cancelWithParent: true },
        { type: 'ChildStarted', position: 1, childJobId: 'src.c1', workflow: 'kid', input: 2, cancelWithParent: true },
        { type: 'ChildFinished', position: 0, childJobId: 'src.c0', status: 'completed', output: 'done', finishedAt: 1500 },
        { type: 'TimerStarted', position: 2, fireAt: 99_000 },
        { type: 'CancelRequested', reason: 'stop', requestedAt: 1600 },
        stepStarted(3, 'after', 1),
      ],
      'after',
    );
    expect(events[0]).toMatchObject({ deadline: 9000 + 60_000 });
    expect(state.journal).toMatchObject([
      { kind: 'child', childJobId: 'src.c0', finished: true, output: 'done' },
      { kind: 'child', childJobId: 'fork.c1', finished: false },
      { kind: 'sleep', fireAt: 99_000, fired: false },
    ]);
    expect(state.timers['sleep:2']).toEqual({ timerId: 'sleep:2', fireAt: 99_000 });
    expect(state.cancel).toBeUndefined();
  });

  it('replaces a recorded result, even of a step that failed for good', () => {
    const { state } = forked(
      [
        started,
        stepStarted(0, 'quote', 1),
        completed(0, 10),
        stepStarted(1, 'lookup', 1),
        { type: 'StepFailed', stepId: 1, attempt: 1, failure: { name: 'Error', message: 'x' }, failedAt: 1300, final: true },
        stepStarted(2, 'charge', 1),
      ],
      'charge',
      { setOutputs: { quote: 40, lookup: 'found' } },
    );
    expect(state.journal).toMatchObject([
      { name: 'quote', status: 'completed', output: 40 },
      { name: 'lookup', status: 'completed', output: 'found' },
    ]);
    expect(state.forkedFrom?.outputs).toEqual({ quote: 40, lookup: 'found' });
  });

  it('takes the prefix from the latest run of a job that was run again', () => {
    const { events } = forked(
      [
        started,
        stepStarted(0, 'a', 1),
        { type: 'JobFailed', failure: { name: 'Error', message: 'x' }, failedAt: 1200 },
        { ...started, epoch: 2, input: { id: 2 } } as JobEvent,
        stepStarted(0, 'a', 1, 2),
        completed(0, 'second'),
        stepStarted(1, 'b', 1, 2),
      ],
      'b',
    );
    expect(events[0]).toMatchObject({ input: { id: 2 }, epoch: 1, forkedFrom: { seq: 6, events: 2 } });
    expect(events[2]).toMatchObject({ output: 'second' });
  });
});
