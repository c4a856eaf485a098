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
  it('reads back exactly what was exported: bigints, dates, bytes, and objects that look like tags', () => {
    const input = {
      n: 2n,
      at: new Date('2026-11-22T03:00:00.123Z'),
      bytes: new Uint8Array([0, 1, 254, 255]),
      nested: [{ $date: 'not a date, a field of the payload' }, { $bytes: 1, other: true }],
    };
    const history: RecordedEvent[] = [
      {
        seq: 1,
        recordedAt: 1_700_000_000_000,
        event: { type: 'JobStarted', workflow: 'order', version: '1', input, epoch: 1, startedAt: 1_700_000_000_000 },
      },
      events[1] as RecordedEvent,
    ];
    const text = exportHistory('job-1', history);
    expect(JSON.parse(text).version).toBe(2);
    const read = parseExportedHistory(text);
    expect(read.jobId).toBe('job-1');
    expect(read.events).toEqual(history);
    expect((read.events[0] as RecordedEvent).event).toMatchObject({ input: { bytes: expect.any(Uint8Array) } });
  });

  it('still reads version 1 documents, where bigints were decimal strings', () => {
    const v1 = {
      format: 'ratchet-history',
      version: 1,
      jobId: 'job-1',
      events: [{ ...events[0], event: { ...events[0]?.event, input: { n: '2' } } }, events[1]],
    };
    expect(parseExportedHistory(JSON.stringify(v1)).events).toEqual(v1.events);
  });

  it('names a tag whose value is not what the tag says', () => {
    const doc = JSON.parse(exportHistory('job-1', events));
    doc.events[0].event.input = { n: { $bigint: '2.5' } };
    expect(() => parseExportedHistory(JSON.stringify(doc))).toThrow('events[0].event.input.n.$bigint is not a decimal integer');
  });

  it('names what is wrong with a document that is not one', () => {
    const doc = JSON.parse(exportHistory('job-1', events));
    const problem = (value: unknown) => () => parseExportedHistory(typeof value === 'string' ? value : JSON.stringify(value));
    expect(problem('{oops')).toThrow(/an exported history must be JSON/);
    expect(problem({ ...doc, format: 'csv' })).toThrow('format is "csv", not "ratchet-history"');
    expect(problem({ ...doc, version: 3 })).toThrow('version 3 is not one this code reads (1 or 2)');
    expect(problem({ ...doc, events: [doc.events[1]] })).toThrow('events[0].seq is 2, expected 1');
    expect(problem({ ...doc, events: [{ ...doc.events[0], event: { type: 'Nope' } }] })).toThrow(/events\[0\]\.event/);
  });
});
