import type { RecordedEvent } from './events.ts';
import { InvalidMessageError, parseEvent } from './parse.ts';

/** The JSON document of `ratchet export`: a job's whole history, readable and re-readable. */
export interface ExportedHistory {
  readonly format: 'ratchet-history';
  /** 2 (written now) keeps every value the log can hold; 1 (still read) turned bigints into strings. */
  readonly version: 1 | 2;
  readonly jobId: string;
  readonly events: readonly RecordedEvent[];
}

/**
 * A job's history as the JSON text `ratchet export` writes. Values JSON has no word for travel
 * tagged, so that a replay from the file sees what a replay from the log sees: a bigint as
 * `{"$bigint": "12"}`, a Date as `{"$date": "2026-01-01T00:00:00.000Z"}`, bytes as
 * `{"$bytes": "<base64>"}`; a payload's own object that looks like a tag goes inside
 * `{"$object": …}`.
 */
export function exportHistory(jobId: string, events: readonly RecordedEvent[]): string {
  const exported = {
    format: 'ratchet-history',
    version: 2,
    jobId,
    events: events.map((recorded) => ({ ...recorded, event: tag(recorded.event) })),
  };
  return `${JSON.stringify(exported, null, 2)}\n`;
}

const TAGS = new Set(['$bigint', '$date', '$bytes', '$object']);

/** An object with a single key that is one of the tags. */
function looksTagged(value: object): string | undefined {
  const keys = Object.keys(value);
  return keys.length === 1 && TAGS.has(keys[0] as string) ? keys[0] : undefined;
}

function tag(value: unknown): unknown {
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date) return { $date: value.toISOString() };
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(tag);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = tag(item);
  return looksTagged(value) ? { $object: out } : out;
}

function untag(value: unknown, path: string): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item, i) => untag(item, `${path}[${i}]`));
  const record = value as Record<string, unknown>;
  const kind = looksTagged(record);
  const bad = (why: string): never => {
    throw new InvalidMessageError(`not an exported history (ratchet export): ${path}.${kind} ${why}`);
  };
  switch (kind) {
    case '$bigint':
      if (typeof record.$bigint !== 'string' || !/^-?\d+$/.test(record.$bigint)) bad('is not a decimal integer');
      return BigInt(record.$bigint as string);
    case '$date': {
      const time = typeof record.$date === 'string' ? Date.parse(record.$date) : Number.NaN;
      if (Number.isNaN(time)) bad('is not an ISO time');
      return new Date(time);
    }
    case '$bytes':
      if (typeof record.$bytes !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(record.$bytes)) bad('is not base64');
      return new Uint8Array(Buffer.from(record.$bytes as string, 'base64'));
    case '$object':
      if (typeof record.$object !== 'object' || record.$object === null || Array.isArray(record.$object)) bad('is not an object');
      return untagFields(record.$object as Record<string, unknown>, path);
    default:
      return untagFields(record, path);
  }
}

function untagFields(record: Record<string, unknown>, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(record)) out[key] = untag(item, `${path}.${key}`);
  return out;
}

/**
 * Reads an exported history back (from a file, an incident report, a test fixture), checking
 * every event as the engine would; the error names what is wrong and where.
 *
 * @example
 * const { events } = parseExportedHistory(readFileSync('job.json', 'utf8'));
 * expect(await replayHistory(orderWorkflow, events)).toMatchObject({ deterministic: true });
 */
export function parseExportedHistory(text: string): ExportedHistory {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new InvalidMessageError(`an exported history must be JSON: ${(error as Error).message}`);
  }
  const fail = (why: string): never => {
    throw new InvalidMessageError(`not an exported history (ratchet export): ${why}`);
  };
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return fail('the document is not an object');
  const { format, version, jobId, events } = document as Record<string, unknown>;
  if (format !== 'ratchet-history') fail(`format is ${JSON.stringify(format)}, not "ratchet-history"`);
  if (version !== 1 && version !== 2) fail(`version ${JSON.stringify(version)} is not one this code reads (1 or 2)`);
  if (typeof jobId !== 'string' || jobId === '') fail('jobId is missing');
  if (!Array.isArray(events)) return fail('events is not an array');
  const recorded = events.map((entry: unknown, i): RecordedEvent => {
    const { seq, recordedAt, event } = (entry ?? {}) as Record<string, unknown>;
    if (seq !== i + 1) fail(`events[${i}].seq is ${JSON.stringify(seq)}, expected ${i + 1} (seqs are dense from 1)`);
    if (typeof recordedAt !== 'number' || !Number.isFinite(recordedAt)) fail(`events[${i}].recordedAt is not a time in ms`);
    const label = `events[${i}].event`;
    return { seq: i + 1, recordedAt: recordedAt as number, event: parseEvent(version === 2 ? untag(event, label) : event, label) };
  });
  return { format: 'ratchet-history', version: version as 1 | 2, jobId: jobId as string, events: recorded };
}
