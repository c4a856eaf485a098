import { formatHistory } from '@ratchet/engine/history-text';
import { timeline } from '@ratchet/engine/timeline';
import { toJsonText } from '@ratchet/protocol';
import { readWholeHistory } from '@ratchet/sdk';
import type { EngineConnection } from './engine-connection.ts';
import { writeOut } from './write-out.ts';

/**
 * `ratchet history`: the job's timeline as a person reads it, or with `--json` every event with
 * seq, time, type, step, attempt, error and the event itself.
 */
export async function showHistory(
  engine: EngineConnection,
  jobId: string,
  json: boolean,
  filter: { readonly step?: string; readonly type?: string } = {},
): Promise<number> {
  const { events } = await readWholeHistory(engine, jobId);
  await writeOut(`${historyOutput(jobId, events, json, filter)}\n`);
  return 0;
}

/** What `ratchet history` prints for these events (the in-process part, timed by the tests). */
export function historyOutput(
  jobId: string,
  events: Parameters<typeof formatHistory>[1],
  json: boolean,
  filter: { readonly step?: string; readonly type?: string } = {},
): string {
  if (!json) return formatHistory(jobId, events, filter);
  const kept = timeline(jobId, events)
    .map((row, i) => ({ ...row, event: events[i]?.event }))
    .filter((row) => (filter.step === undefined || row.step === filter.step) && (filter.type === undefined || row.type === filter.type));
  return toJsonText(kept, 2) as string;
}
