import { decode, type JobEvent } from '@ratchet/protocol';
import { describe, expect, it } from 'vitest';
import type { AppendRequest } from '../src/event-store.ts';
import { planAppend } from '../src/plan-append.ts';

const value = (position: number): JobEvent => ({ type: 'ValueRecorded', position, kind: 'random', value: position / 10 });

function request(
  jobId: string,
  expectedSeq: number,
  count: number,
  timers: AppendRequest['timers'] = { added: [], removed: [] },
): AppendRequest {
  const events = Array.from({ length: count }, (_, i) => value(expectedSeq + i));
  return {
    jobId,
    expectedSeq,
    events,
    recordedAt: 1_000 + expectedSeq,
    job: { jobId, workflow: 'w', version: '1', status: 'running', epoch: 1, lastSeq: expectedSeq + count, startedAt: 1, updatedAt: 2 },
    timers,
  };
}

describe('planAppend', () => {
  it('numbers each job’s events on from its expected seq and encodes them', () => {
    const plan = planAppend([request('a', 0, 2), request('b', 5, 1)]);
    expect(plan.joined).toEqual([true, true]);
    expect(plan.events.jobId).toEqual(['a', 'a', 'b']);
    expect(plan.events.seq).toEqual([1, 2, 6]);
    expect(plan.events.recordedAt).toEqual([1_000, 1_000, 1_005]);
    expect(plan.events.data.map((hex) => decode(Buffer.from(hex, 'hex')))).toEqual([value(0), value(1), value(5)]);
    expect(plan.jobs.jobId).toEqual(['a', 'b']);
    expect(plan.jobs.expectedSeq).toEqual([0, 5]);
    expect(plan.jobs.finishedAt).toEqual([null, null]);
  });

  it('chains requests for one job that follow on, checks the first and writes the last row', () => {
    const plan = planAppend([request('a', 3, 1), request('a', 4, 2), request('a', 3, 1), request('a', 6, 1)]);
    expect(plan.joined).toEqual([true, true, false, true]);
    expect(plan.events.seq).toEqual([4, 5, 6, 7]);
    expect(plan.jobs.expectedSeq).toEqual([3]);
    expect(plan.jobs.lastSeq).toEqual([7]);
  });

  it('keeps the last word on each timer of a job: removals after additions, later requests after earlier', () => {
    const plan = planAppend([
      request('a', 1, 1, {
        added: [
          { timerId: 'sleep:0', fireAt: 10 },
          { timerId: 'sleep:1', fireAt: 20 },
        ],
        removed: ['retry:0:2'],
      }),
      request('a', 2, 1, { added: [{ timerId: 'retry:0:2', fireAt: 30 }], removed: ['sleep:1'] }),
      request('b', 1, 1, { added: [{ timerId: 'sleep:4', fireAt: 40 }], removed: ['sleep:4'] }),
    ]);
    expect(plan.addedTimers).toEqual({ jobId: ['a', 'a'], timerId: ['sleep:0', 'retry:0:2'], fireAt: [10, 30] });
    expect(plan.removedTimers).toEqual({ jobId: ['a', 'b'], timerId: ['sleep:1', 'sleep:4'] });
  });

  it('refuses a request whose job row does not end where its events do', () => {
    const bad = { ...request('a', 2, 2), job: { ...request('a', 2, 2).job, lastSeq: 3 } };
    expect(() => planAppend([request('b', 0, 1), bad])).toThrow(/job.lastSeq 3 is not expectedSeq 2 \+ 2 events/);
    expect(() => planAppend([{ ...request('a', -1, 1) }])).toThrow(/expectedSeq -1/);
  });
});
