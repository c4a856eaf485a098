import { decode, encode, type JobEvent, type JobSummary } from '@ratchet/protocol';
import { describe, expect, it } from 'vitest';
import { encodeHistoryPage, HISTORY_PAGE_BYTES } from '../src/history-page.ts';

const job = { jobId: 'j-1', workflow: 'w', version: '1', status: 'running', epoch: 2, lastSeq: 3 } as unknown as JobSummary;
const stored = (seq: number, event: JobEvent, recordedAt = 1_795_000_000_000.5 + seq) => ({ seq, recordedAt, data: encode(event) });

describe('a history page built from the stored bytes', () => {
  it('decodes to the reply encode would have given, with or without more', () => {
    const events = [
      stored(1, {
        type: 'JobStarted',
        workflow: 'w',
        version: '1',
        input: { n: 7n, at: new Date(5), bytes: new Uint8Array([1, 2]) },
        epoch: 1,
        startedAt: 1,
      }),
      stored(70_000, { type: 'ValueRecorded', position: 0, kind: 'random', value: 0.25 }, 1_795_000_000_123),
      stored(2 ** 31 - 1, { type: 'JobCompleted', output: 'done', completedAt: 9 }),
    ];
    const decoded = events.map((e) => ({ seq: e.seq, recordedAt: e.recordedAt, event: decode(new Uint8Array(e.data)) }));
    expect(decode(encodeHistoryPage(job, events))).toEqual({ job, events: decoded });
    expect(decode(encodeHistoryPage(job, events, false))).toEqual({ job, events: decoded, more: true });
    expect(decode(encodeHistoryPage(job, []))).toEqual({ job, events: [] });
  });

  it('stops before the size limit, says more follow, and always carries one event', () => {
    const big = (seq: number) => stored(seq, { type: 'JobCompleted', output: 'x'.repeat(200_000), completedAt: seq });
    const page = encodeHistoryPage(job, [big(1), big(2), big(3), big(4)]);
    expect(page.byteLength).toBeLessThanOrEqual(HISTORY_PAGE_BYTES);
    const value = decode(page) as { events: { seq: number }[]; more?: boolean };
    expect(value.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(value.more).toBe(true);
    const huge = stored(1, { type: 'JobCompleted', output: 'x'.repeat(HISTORY_PAGE_BYTES), completedAt: 1 });
    expect((decode(encodeHistoryPage(job, [huge, big(2)])) as { events: unknown[] }).events).toHaveLength(1);
  });
});
