import { type RawBuilder, sql } from 'kysely';
import type { AppendPlan } from './plan-append.ts';

/** The store's tables, as identifiers qualified by its schema. */
export interface AppendTables {
  readonly jobEvents: RawBuilder<unknown>;
  readonly jobs: RawBuilder<unknown>;
  readonly timers: RawBuilder<unknown>;
}

/** What the one-job statement for a plan looks like: its text depends on these only. */
export interface OneJobShape {
  readonly key: string;
  readonly extending: boolean;
  readonly adding: boolean;
  readonly removing: boolean;
}

export function oneJobShape(plan: AppendPlan): OneJobShape {
  const extending = (plan.jobs.expectedSeq[0] as number) > 0;
  const adding = plan.addedTimers.jobId.length > 0;
  const removing = plan.removedTimers.jobId.length > 0;
  return { key: `one:${extending}${adding}${removing}`, extending, adding, removing };
}

/**
 * The append of a batch that writes one job — what a lone job's every step commits. The batch
 * statement joins the jobs table with `unnest`ed columns, a plan only the array lengths make
 * cheap, so Postgres plans it anew on every execution (a generic plan would guess the lengths,
 * and could keep a sequential scan of the jobs table planned while it was small): measured, a
 * quarter of a millisecond on a slow machine, about as long as the rest of the commit. Here the
 * job's columns are plain parameters and only its events and timers are arrays, which no join
 * depends on, so planning is trivial. The same rows are written, and the job's id is returned
 * exactly when the batch statement would return it: when the job's write won.
 *
 * Parameters are numbered by hand, in the order {@link oneJobParameters} gives them.
 */
export function oneJobStatement(tables: AppendTables, shape: OneJobShape): RawBuilder<unknown> {
  const { jobEvents, jobs, timers } = tables;
  const $ = (n: number) => sql.raw(`$${n}`);
  const time = (n: number) => sql`to_timestamp(${$(n)}::float8 / 1000)`;
  let next = 14;
  const parts: RawBuilder<unknown>[] = [
    shape.extending
      ? sql`won as (
          update ${jobs} set workflow = $2, version = $3, status = $4, epoch = $5::int4, last_seq = $6::int4,
            started_at = ${time(7)}, updated_at = ${time(8)}, finished_at = ${time(9)}
          where job_id = $1 and last_seq = ${$(next++)}::int4
          returning job_id
        )`
      : sql`won as (
          insert into ${jobs} (job_id, workflow, version, status, epoch, last_seq, started_at, updated_at, finished_at)
          values ($1, $2, $3, $4, $5::int4, $6::int4, ${time(7)}, ${time(8)}, ${time(9)})
          on conflict (job_id) do nothing
          returning job_id
        )`,
    sql`appended as (
      insert into ${jobEvents} (job_id, seq, type, data, recorded_at)
      select won.job_id, e.seq, e.type, decode(e.data, 'hex'), to_timestamp(e.recorded_at / 1000)
      from won, unnest($10::int4[], $11::text[], $12::text[], $13::float8[]) as e(seq, type, data, recorded_at)
    )`,
  ];
  if (shape.adding) {
    const [ids, fireAts] = [$(next++), $(next++)];
    parts.push(sql`added as (
      insert into ${timers} (job_id, timer_id, fire_at)
      select won.job_id, t.timer_id, to_timestamp(t.fire_at / 1000)
      from won, unnest(${ids}::text[], ${fireAts}::float8[]) as t(timer_id, fire_at)
      on conflict (job_id, timer_id) do update set fire_at = excluded.fire_at, claimed_until = null
    )`);
  }
  if (shape.removing) {
    parts.push(sql`removed as (
      delete from ${timers} as t using won
      where t.job_id = won.job_id and t.timer_id = any(${$(next++)}::text[])
    )`);
  }
  return sql`with ${sql.join(parts, sql`, `)} select job_id from won`;
}

/** The parameters of {@link oneJobStatement} for `plan`, in its numbering. */
export function oneJobParameters(plan: AppendPlan, shape: OneJobShape): unknown[] {
  const { jobs: j, events: e, addedTimers: added, removedTimers: removed } = plan;
  const parameters: unknown[] = [
    j.jobId[0],
    j.workflow[0],
    j.version[0],
    j.status[0],
    j.epoch[0],
    j.lastSeq[0],
    j.startedAt[0],
    j.updatedAt[0],
    j.finishedAt[0],
    e.seq,
    e.type,
    e.data,
    e.recordedAt,
  ];
  if (shape.extending) parameters.push(j.expectedSeq[0]);
  if (shape.adding) parameters.push(added.timerId, added.fireAt);
  if (shape.removing) parameters.push(removed.timerId);
  return parameters;
}
