import type { RecordedEvent } from './events.ts';
import { InvalidMessageError, parseEvent } from './parse.ts';

/** The JSON document of `ratchet export`: a job's whole history, readable and re-readable. */
export interface ExportedHistory {
  readonly format: 'ratchet-history';
  readonly version: 1;
  readonly jobId: string;
  readonly events: readonly RecordedEvent[];
}

/**
 * A job's history as the JSON text `ratchet export` writes. JSON has no bigint: bigints in
 * payloads become decimal strings (and stay strings when read back).
 */
export function exportHistory(jobId: string, events: readonly RecordedEvent[]): string {
  const exported: ExportedHistory = { format: 'ratchet-history', version: 1, jobId, events };
  return `${JSON.stringify(exported, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`;
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
  if (version !== 1) fail(`version ${JSON.stringify(version)} is not one this code reads (1)`);
  if (typeof jobId !== 'string' || jobId === '') fail('jobId is missing');
  if (!Array.isArray(events)) return fail('events is not an array');
  const recorded = events.map((entry: unknown, i): RecordedEvent => {
    const { seq, recordedAt, event } = (entry ?? {}) as Record<string, unknown>;
    if (seq !== i + 1) fail(`events[${i}].seq is ${JSON.stringify(seq)}, expected ${i + 1} (seqs are dense from 1)`);
    if (typeof recordedAt !== 'number' || !Number.isFinite(recordedAt)) fail(`events[${i}].recordedAt is not a time in ms`);
    return { seq: i + 1, recordedAt: recordedAt as number, event: parseEvent(event, `events[${i}].event`) };
  });
  return { format: 'ratchet-history', version: 1, jobId: jobId as string, events: recorded };
}
