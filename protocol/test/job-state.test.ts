import { describe, expect, it } from 'vitest';
import {
  applyEvent,
  emptyJobState,
  foldEvents,
  IllegalTransitionError,
  type JobEvent,
  type RecordedEvent,
  resolveRetryPolicy,
} from '../src/index.ts';

const policy = resolveRetryPolicy({ maximumAttempts: 3, initialInterval: 100 });
const recorded = (events: JobEvent[]): RecordedEvent[] => events.map((event, i) => ({ seq: i + 1, recordedAt: 1000 + i, event }));
const started: JobEvent = { type: 'JobStarted', workflow: 'order', version: '1', input: { id: 1 }, epoch: 1, startedAt: 1000 };
const stepStarted = (stepId: number, name: string, attempt: number, epoch = 1): JobEvent => ({
  type: 'StepStarted',
  stepId,
  name,
  attempt,
  startedAt: 1000,
  worker: 'w1',
  epoch,
  ...(attempt === 1 ? { policy } : {}),
});

describe('the fold', () => {
  it('builds the journal of a job that completes', () => {
    const state = foldEvents(
      'j1',
      recorded([
        started,
        stepStarted(0, 'reserve', 1),
        { type: 'StepCompleted', stepId: 0, attempt: 1, output: 'r-1', completedAt: 1010 },
        { type: 'ValueRecorded', position: 1, kind: 'now', value: 1234 },
        { type: 'TimerStarted', position: 2, fireAt: 5000 },
        { type: 'TimerFired', timerId: 'sleep:2', epoch: 2, firedAt: 5001 },
        { type: 'JobCompleted', output: { ok: true }, completedAt: 5002 },
      ]),
    );
    expect(state.status).toBe('completed');
    expect(state.output).toEqual({ ok: true });
    expect(state.epoch).toBe(2);
    expect(state.lastSeq).toBe(7);
    expect(state.journal.map((e) => e.kind)).toEqual(['step', 'value', 'sleep']);
    expect(state.journal[0]).toMatchObject({
      status: 'completed',
      output: 'r-1',
      attempts: [{ attempt: 1, status: 'completed', endedAt: 1010 }],
    });
    expect(state.journal[2]).toMatchObject({ fired: true });
    expect(state.timers).toEqual({});
  });

  it('tracks attempts, retries and durable retry timers', () => {
    const failure = { name: 'Error', message: 'down' };
    const events = recorded([
      started,
      stepStarted(0, 'charge', 1),
      { type: 'StepFailed', stepId: 0, attempt: 1, failure, failedAt: 1100, final: false },
      { type: 'StepRetryScheduled', stepId: 0, attempt: 2, at: 1200, durable: true },
    ]);
    const waiting = foldEvents('j1', events);
    expect(waiting.journal[0]).toMatchObject({ status: 'retrying', retryAt: 1200, retryDurable: true });
    expect(waiting.timers).toEqual({ 'retry:0:2': { timerId: 'retry:0:2', fireAt: 1200 } });
    // The next attempt cannot start while its timer is pending.
    expect(() => applyEvent(waiting, { seq: 5, recordedAt: 1150, event: stepStarted(0, 'charge', 2) })).toThrow(IllegalTransitionError);
    const fired = applyEvent(waiting, {
      seq: 5,
      recordedAt: 1200,
      event: { type: 'TimerFired', timerId: 'retry:0:2', epoch: 2, firedAt: 1200 },
    });
    const second = applyEvent(fired, { seq: 6, recordedAt: 1201, event: stepStarted(0, 'charge', 2, 2) });
    expect(second.journal[0]).toMatchObject({
      status: 'running',
      attempts: [
        { status: 'failed', failure },
        { attempt: 2, status: 'running', epoch: 2 },
      ],
    });
    expect(waiting.journal[0]).toMatchObject({ status: 'retrying' }); // applyEvent left its input alone
  });

  it('ends a step waiting for its retry where a cancellation is delivered, and drops its retry timer', () => {
    const failure = { name: 'Error', message: 'down' };
    const waiting: JobEvent[] = [
      started,
      stepStarted(0, 'charge', 1),
      { type: 'StepFailed', stepId: 0, attempt: 1, failure, failedAt: 1100, final: false },
      { type: 'StepRetryScheduled', stepId: 0, attempt: 2, at: 9000, durable: true },
      { type: 'CancelRequested', reason: 'withdrawn', requestedAt: 1200 },
    ];
    const state = foldEvents('j1', recorded([...waiting, { type: 'CancelDelivered', position: 0 }]));
    expect(state.journal[0]).toMatchObject({ status: 'failed', failure: { name: 'CancelledError', message: 'withdrawn' } });
    expect(state.journal[0]).not.toHaveProperty('retryAt');
    expect(state.timers).toEqual({});
    expect(state.cancel).toMatchObject({ deliveredAt: 0 });
    // An attempt in flight is not where the workflow stands: it is told after the attempt.
    const running = recorded([started, stepStarted(0, 'charge', 1), waiting[4] as JobEvent, { type: 'CancelDelivered', position: 0 }]);
    expect(() => foldEvents('j1', running)).toThrow(IllegalTransitionError);
  });

  it('gives the same state folded at once or event by event', () => {
    const events = recorded([
      started,
      stepStarted(0, 'a', 1),
      { type: 'StepFailed', stepId: 0, attempt: 1, failure: { name: 'E', message: 'x' }, failedAt: 1, final: false },
      { type: 'StepRetryScheduled', stepId: 0, attempt: 2, at: 2, durable: false },
      stepStarted(0, 'a', 2),
      { type: 'StepCompleted', stepId: 0, attempt: 2, output: 1, completedAt: 3 },
      { type: 'JobFailed', failure: { name: 'E', message: 'y' }, failedAt: 4 },
    ]);
    const stepwise = events.reduce(applyEvent, emptyJobState('j'));
    expect(stepwise).toEqual(foldEvents('j', events));
  });

  it('refuses events that cannot follow the log', () => {
    const base = foldEvents('j', recorded([started, stepStarted(0, 'a', 1)]));
    const next = (event: JobEvent) => () => applyEvent(base, { seq: 3, recordedAt: 0, event });
    expect(next({ type: 'StepCompleted', stepId: 0, attempt: 2, output: 1, completedAt: 0 })).toThrow(/attempt 2 of step 0 is not running/);
    expect(next(stepStarted(5, 'b', 1))).toThrow(/position 5 is not the next one/);
    expect(next({ type: 'JobClaimed', epoch: 1, worker: 'w', claimedAt: 0 })).toThrow(/does not move past/);
    expect(next(started)).toThrow(/already started/);
    expect(() => applyEvent(base, { seq: 7, recordedAt: 0, event: started })).toThrow(/expected seq 3/);
    expect(() => foldEvents('k', recorded([stepStarted(0, 'a', 1)]))).toThrow(/has not started/);
  });

  it('folds 100,000 events quickly', () => {
    const events: RecordedEvent[] = [{ seq: 1, recordedAt: 0, event: started }];
    for (let i = 0; events.length < 100_000; i++) {
      events.push({ seq: events.length + 1, recordedAt: 0, event: stepStarted(i, `s${i}`, 1) });
      events.push({
        seq: events.length + 1,
        recordedAt: 0,
        event: { type: 'StepCompleted', stepId: i, attempt: 1, output: i, completedAt: 0 },
      });
    }
    const t0 = performance.now();
    const state = foldEvents('big', events.slice(0, 100_000));
    const ms = performance.now() - t0;
    expect(state.lastSeq).toBe(100_000);
    expect(ms).toBeLessThan(2000);
  });
});
