import { type JobEvent, type RecordedEvent, resolveRetryPolicy } from '@ratchet/protocol';
import { describe, expect, it } from 'vitest';
import { duration, formatHistory, type HistoryFilter } from '../src/history-text.ts';
import { timeline } from '../src/timeline.ts';

const policy = resolveRetryPolicy({});
const T = Date.UTC(2026, 0, 1, 12);
const recorded = (events: JobEvent[]): RecordedEvent[] => events.map((event, i) => ({ seq: i + 1, recordedAt: T + 1000 + i, event }));
const stack = [
  'Error: card declined',
  '    at charge (file:///app/workflows/checkout.ts:12:11)',
  '    at file:///app/node_modules/@ratchet/worker/src/step-runner.ts:245:49',
  '    at process.processTicksAndRejections (node:internal/process/task_queues:104:5)',
].join('\n');

describe('the readable history', () => {
  it('shows times, the worker and epoch of each attempt, durations, the stack and the retry', () => {
    const text = formatHistory(
      'job-1',
      recorded([
        { type: 'JobStarted', workflow: 'checkout', version: '2', input: { id: 1 }, epoch: 1, startedAt: T },
        { type: 'StepStarted', stepId: 0, name: 'charge', attempt: 1, startedAt: T + 5, worker: 'w-a', epoch: 1, policy },
        {
          type: 'StepFailed',
          stepId: 0,
          attempt: 1,
          failure: { name: 'Error', message: 'card declined', stack },
          failedAt: T + 45,
          final: false,
        },
        { type: 'StepRetryScheduled', stepId: 0, attempt: 2, at: T + 2045, durable: true },
        { type: 'TimerFired', timerId: 'retry:0:2', epoch: 2, firedAt: T + 2050 },
        { type: 'JobClaimed', epoch: 3, worker: 'w-b', claimedAt: T + 2060 },
        { type: 'StepStarted', stepId: 0, name: 'charge', attempt: 2, startedAt: T + 2070, worker: 'w-b', epoch: 3 },
        { type: 'StepCompleted', stepId: 0, attempt: 2, output: 'ch-1', completedAt: T + 2100 },
        { type: 'JobCompleted', output: 'ch-1', completedAt: T + 62_100 },
      ]),
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe('job job-1  workflow checkout v2  started 2026-01-01T12:00:00.000Z  9 events');
    expect(lines[1]).toBe('completed after 1m 02s');
    expect(text).toMatch(/^\s+2\s+5 ms\s+5 ms {2}StepStarted\s+charge #1 {2}worker w-a {2}epoch 1$/m);
    expect(text).toMatch(/^\s+3\s+45 ms\s+40 ms {2}StepFailed\s+charge #1 {2}took 40 ms {2}worker w-a {2}epoch 1 {2}will retry$/m);
    expect(text).toContain('error Error: card declined\n');
    // The workflow's frame stays; Ratchet's and Node's own go.
    expect(text).toContain('    at charge (file:///app/workflows/checkout.ts:12:11)');
    expect(text).not.toContain('step-runner.ts');
    expect(text).not.toContain('node:internal');
    expect(text).toContain('charge #2  at 2026-01-01T12:00:02.045Z, 2.00 s after the failure (durable timer)');
    expect(text).toMatch(/JobClaimed +epoch 3 by w-b/);
    expect(text).toMatch(/^\s+8\s+2\.10 s\s+30 ms {2}StepCompleted\s+charge #2 {2}took 30 ms {2}worker w-b {2}epoch 3 {2}output "ch-1"$/m);
  });

  it('marks the copied prefix of a fork, whose events keep their source times', () => {
    const text = formatHistory(
      'fork-1',
      recorded([
        {
          type: 'JobStarted',
          workflow: 'checkout',
          version: '2',
          input: {},
          epoch: 1,
          startedAt: T,
          forkedFrom: { jobId: 'job-1', step: 'ship', seq: 3, events: 2, outputs: { charge: 'x' } },
        },
        { type: 'StepStarted', stepId: 0, name: 'charge', attempt: 1, startedAt: T - 600, worker: 'w-a', epoch: 1, policy },
        { type: 'StepCompleted', stepId: 0, attempt: 1, output: 'x', completedAt: T - 500 },
        { type: 'StepStarted', stepId: 1, name: 'ship', attempt: 1, startedAt: T + 10, worker: 'w-c', epoch: 1, policy },
      ]),
    );
    expect(text).toContain(
      'forked from job job-1 at its seq 3: its first 2 journal events are copied, step "ship" runs again; results replaced: charge',
    );
    expect(text).toMatch(/-- copied from the source job, as recorded there --\n +2 +-600 ms +-600 ms {2}StepStarted/);
    expect(text).toMatch(/output "x"\n +-- the fork runs from here --\n +4 +10 ms +510 ms {2}StepStarted {9}ship #1/);
  });

  it('shows values JSON has no word for: a bigint as a decimal string, bytes as base64, a date as ISO time', () => {
    // Bytes come back from the log as Buffers, whose own toJSON would list them byte by byte.
    const output = { big: 12n, bytes: Buffer.from([1, 2, 255]), at: new Date(T) };
    const events = recorded([
      { type: 'JobStarted', workflow: 'checkout', version: '', input: 9007199254740993n, epoch: 1, startedAt: T },
      { type: 'StepStarted', stepId: 0, name: 'count', attempt: 1, startedAt: T + 5, worker: 'w-a', epoch: 1, policy },
      { type: 'StepCompleted', stepId: 0, attempt: 1, output, completedAt: T + 9 },
      { type: 'JobCompleted', output, completedAt: T + 10 },
    ]);
    const shown = '{"big":"12","bytes":{"base64":"AQL/"},"at":"2026-01-01T12:00:00.000Z"}';
    const text = formatHistory('job-1', events);
    expect(text).toContain('input "9007199254740993"');
    expect(text).toMatch(/StepCompleted +count #1 .* output \{"big":"12",/);
    expect(text).toContain(`output ${shown}`);
    expect(timeline('job-1', events).map((row) => row.detail)).toContain(`output ${shown}`);
  });

  it('says when a filter leaves nothing to show, naming the steps the job has', () => {
    const events = recorded([
      { type: 'JobStarted', workflow: 'checkout', version: '', input: {}, epoch: 1, startedAt: T },
      { type: 'StepStarted', stepId: 0, name: 'charge', attempt: 1, startedAt: T + 5, worker: 'w-a', epoch: 1, policy },
      { type: 'StepCompleted', stepId: 0, attempt: 1, output: 'ch-1', completedAt: T + 9 },
      { type: 'StepStarted', stepId: 1, name: 'ship', attempt: 1, startedAt: T + 10, worker: 'w-a', epoch: 1, policy },
    ]);
    const last = (filter: HistoryFilter) => formatHistory('job-1', events, filter).split('\n').at(-1)?.trim();
    expect(last({ step: 'chrage' })).toBe('(no events of step "chrage": the job has no step "chrage" (its steps: charge, ship))');
    expect(last({ step: 'charge', type: 'StepFailed' })).toBe('(no StepFailed events of step "charge")');
    expect(last({ type: 'JobCompleted' })).toBe('(no JobCompleted events)');
    expect(last({ step: 'ship' })).toMatch(/^4 .* StepStarted +ship #1/);
  });

  it('writes durations a person reads at a glance', () => {
    expect([0, 999, 1500, 12_340, 185_000, 7_500_000, 200_000_000, -40].map(duration)).toEqual([
      '0 ms',
      '999 ms',
      '1.50 s',
      '12.3 s',
      '3m 05s',
      '2h 05m',
      '2d 7h',
      '-40 ms',
    ]);
  });
});
