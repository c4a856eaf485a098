import { encode, type JobEvent, resolveRetryPolicy } from '@ratchet/protocol';
import type postgres from 'postgres';

/** The id of the long job the speed tests write. */
export const LONG_JOB_ID = 'long-job';

/** The log of a long-running job of `count` events: its start, steps that completed, and the next one started. */
export function longJobEvents(count: number, t0: number): JobEvent[] {
  const policy = resolveRetryPolicy({});
  const events: JobEvent[] = [{ type: 'JobStarted', workflow: 'long', version: '1', input: { steps: 5000 }, epoch: 1, startedAt: t0 }];
  for (let stepId = 0; events.length < count - 1; stepId++) {
    const at = t0 + stepId * 10;
    events.push(
      { type: 'StepStarted', stepId, name: `step-${stepId}`, attempt: 1, startedAt: at, worker: 'speed-worker', epoch: 1, policy },
      { type: 'StepCompleted', stepId, attempt: 1, output: { n: stepId }, completedAt: at + 5 },
    );
  }
  const stepId = (events.length - 1) / 2;
  const startedAt = t0 + stepId * 10;
  events.push({ type: 'StepStarted', stepId, name: `step-${stepId}`, attempt: 1, startedAt, worker: 'speed-worker', epoch: 1, policy });
  return events;
}

/**
 * Writes `events` as {@link LONG_JOB_ID}'s log and its row straight into the tables, one event
 * recorded every 5 ms from `t0` (far faster than appending them through the store).
 */
export async function writeLongJob(sql: postgres.Sql, events: readonly JobEvent[], t0: number): Promise<void> {
  await sql.unsafe(
    `insert into job_events (job_id, seq, type, data, recorded_at)
     select '${LONG_JOB_ID}', e.seq, e.type, decode(e.data, 'hex'), to_timestamp(e.at / 1000.0)
     from unnest($1::int4[], $2::text[], $3::text[], $4::float8[]) as e(seq, type, data, at)`,
    [
      events.map((_, i) => i + 1),
      events.map((event) => event.type),
      events.map((event) => Buffer.from(encode(event)).toString('hex')),
      events.map((_, i) => t0 + i * 5),
    ] as never,
  );
  await sql.unsafe(`
    insert into jobs (job_id, workflow, version, status, epoch, last_seq, started_at, updated_at)
    values ('${LONG_JOB_ID}', 'long', '1', 'running', 1, ${events.length}, to_timestamp(${t0} / 1000.0), to_timestamp(${t0 + events.length * 5} / 1000.0))`);
}
