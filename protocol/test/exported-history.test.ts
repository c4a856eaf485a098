import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../src/events.ts';
import { exportHistory, parseExportedHistory } from '../src/exported-history.ts';

const events: RecordedEvent[] = [
  {
    seq: 1,
    recordedAt: 1_700_000_000_000,
    event: { type: 'JobStarted', workflow: 'order', version: '1', input: { n: 2n }, epoch: 1, startedAt: 1_700_000_000_000 },
  },
  { seq: 2, recordedAt: 1_700_000_000_005, event: { type: 'JobCompleted', output: 'ok', completedAt: 1_700_000_000_005 } },
];

describe('an exported history', () => {
  it('reads back what was exported, bigints as decimal strings', () => {
    const read = parseExportedHistory(exportHistory('job-1', events));
    expect(read.jobId).toBe('job-1');
    expect(read.events).toEqual([{ ...events[0], event: { ...events[0]?.event, input: { n: '2' } } }, events[1]]);
  });

  it('names what is wrong with a document that is not one', () => {
    const doc = JSON.parse(exportHistory('job-1', events));
    const problem = (value: unknown) => () => parseExportedHistory(typeof value === 'string' ? value : JSON.stringify(value));
    expect(problem('{oops')).toThrow(/an exported history must be JSON/);
    expect(problem({ ...doc, format: 'csv' })).toThrow('format is "csv", not "ratchet-history"');
    expect(problem({ ...doc, version: 2 })).toThrow('version 2 is not one this code reads (1)');
    expect(problem({ ...doc, events: [doc.events[1]] })).toThrow('events[0].seq is 2, expected 1');
    expect(problem({ ...doc, events: [{ ...doc.events[0], event: { type: 'Nope' } }] })).toThrow(/events\[0\]\.event/);
  });
});
