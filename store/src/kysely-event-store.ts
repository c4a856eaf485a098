import { decode, encode, JOB_STATE_FORMAT, type JobEvent, type JobState, type JobStatus, type RecordedEvent } from '@ratchet/protocol';
import { CompiledQuery, type Kysely, type RawBuilder, sql } from 'kysely';
import {
  type BreakerTables,
  breakerTables,
  listBreakerRows,
  openBreakerRow,
  type RunBreakerStatement,
  readBreakerEvents,
  runOn,
  updateBreakerRow,
  writeBreakerRow,
} from './breaker-rows.ts';
import { readOnceMore } from './connection-loss.ts';
import type { Database } from './database.ts';
import type {
  AppendRequest,
  AppendResult,
  BreakerRow,
  BreakerWrite,
  DueTimer,
  EncodedEvent,
  EventStore,
  JobRow,
  LatestRead,
  RecordedBreakerEvent,
} from './event-store.ts';
import { type JobListQuery, jobIdPrefixProblem, listJobsStatement, PREFIX_SORT_LIMIT, prefixProbeStatement } from './list-jobs.ts';
import { migrateSchema } from './migrate-schema.ts';
import { type AppendTables, oneJobParameters, oneJobShape, oneJobStatement } from './one-job-append.ts';
import { OperationGate } from './operation-gate.ts';
import { type AppendPlan, planAppend } from './plan-append.ts';

/** How long `close()` lets operations still running finish before failing them. */
const CLOSE_GRACE_MS = 5000;

/** What {@link KyselyEventStore} runs on; the Postgres and PGlite stores supply it. */
export interface KyselyEventStoreOptions {
  /** A kysely instance over a Postgres dialect (postgres.js or PGlite). */
  readonly db: Kysely<Database>;
  /** Postgres schema holding every table; must already be a plain identifier. */
  readonly schema: string;
  /** Releases what the concrete store owns (its client, its PGlite instance); runs once. */
  readonly release: () => Promise<void>;
  /**
   * Where single statements run, when not on `db`: the Postgres store sends them to its pool
   * without reserving a connection for each (see PooledStatementsDialect). Transactions and
   * migrations stay on `db`. @default db
   */
  readonly statements?: Kysely<Database>;
}

/** An append statement's text (compiled once per shape) and its parameters. */
interface AppendStatement {
  readonly text: string;
  readonly parameters: readonly unknown[];
}

/**
 * The one implementation of {@link EventStore}, in SQL that real Postgres and PGlite both run.
 * Every operation but `updateBreaker` is a single statement (one round trip, atomic without
 * BEGIN/COMMIT) whose text does not depend on its input, so postgres.js prepares each once per
 * connection.
 */
export class KyselyEventStore implements EventStore {
  readonly #db: Kysely<Database>;
  readonly #schema: string;
  readonly #release: () => Promise<void>;
  /** Runs single statements (see {@link KyselyEventStoreOptions.statements}). */
  readonly #statements: Kysely<Database>;
  readonly #tables: AppendTables & { readonly snapshots: RawBuilder<unknown> };
  readonly #breakers: BreakerTables;
  /** Runs the breakers' single statements, on the append's path: a guarded step's admission reads its breaker's row. */
  readonly #runBreaker: RunBreakerStatement;
  #closed: Promise<void> | undefined;
  /** Every operation runs through it, so that close() can wait for them. */
  readonly #gate = new OperationGate();
  /** Compiled append statements by batch shape. */
  readonly #appendTexts = new Map<string, string>();

  constructor(options: KyselyEventStoreOptions) {
    this.#db = options.db;
    this.#schema = options.schema;
    this.#release = options.release;
    this.#statements = options.statements ?? options.db;
    this.#breakers = breakerTables(options.schema);
    this.#runBreaker = runOn(this.#statements as Kysely<unknown>);
    this.#tables = {
      jobEvents: sql.id(options.schema, 'job_events'),
      jobs: sql.id(options.schema, 'jobs'),
      timers: sql.id(options.schema, 'timers'),
      snapshots: sql.id(options.schema, 'job_snapshots'),
    };
  }

  migrate(): Promise<void> {
    return this.#gate.run(async () => {
      await migrateSchema(this.#db as Kysely<unknown>, this.#schema);
    });
  }

  /**
   * The group commit in one statement: data-modifying CTEs update the rows of jobs whose
   * `last_seq` still equals the expected seq, create the rows of new jobs (ON CONFLICT DO
   * NOTHING), and only for those winners insert the events and write the timers. A concurrent
   * writer of the same job blocks on its row, then re-checks `last_seq` and loses.
   *
   * When the batch extends more than one existing job, their rows are locked in job id order
   * (`locked`) before anything else is touched, so two engines writing overlapping batches wait
   * for each other instead of deadlocking. Parts a batch does not need (creating jobs, extending
   * them, timers) are left out of the statement: each shape is its own prepared statement, and
   * the common one — steps of running jobs — stays lean.
   */
  append(requests: readonly AppendRequest[]): Promise<readonly AppendResult[]> {
    return this.#gate.run(async () => {
      if (requests.length === 0) return [];
      const plan = planAppend(requests);
      const { text, parameters } =
        plan.jobs.jobId.length === 1 && plan.jobs.requires[0] === null ? this.#oneJobQuery(plan) : this.#batchQuery(plan);
      const { rows } = await this.#statements.executeQuery<Record<string, unknown>>(CompiledQuery.raw(text, [...parameters]));
      const won = new Set(rows.map((row) => row.job_id as string));
      return requests.map(({ jobId }, i) =>
        plan.joined[i] && won.has(jobId) ? { jobId, ok: true as const } : { jobId, ok: false as const, reason: 'conflict' as const },
      );
    });
  }

  /** The append of a batch writing one job (see {@link oneJobStatement}), compiled once per shape. */
  #oneJobQuery(plan: AppendPlan): AppendStatement {
    const shape = oneJobShape(plan);
    let text = this.#appendTexts.get(shape.key);
    if (text === undefined) {
      const compiled = oneJobStatement(this.#tables, shape).compile(this.#db);
      if (compiled.parameters.length !== 0) throw new Error('the one-job append statement numbers its own parameters');
      text = compiled.sql;
      this.#appendTexts.set(shape.key, text);
    }
    return { text, parameters: oneJobParameters(plan, shape) };
  }

  #batchQuery(plan: AppendPlan): AppendStatement {
    const { jobs: j, events: e, addedTimers: added, removedTimers: removed } = plan;
    // The statement's text depends only on the batch's shape: compile it once per shape and pass
    // the columns as parameters, in the order the template of #compileAppend uses them.
    const shape = shapeOf(plan);
    const parameters: unknown[] = [
      j.jobId,
      j.expectedSeq,
      j.workflow,
      j.version,
      j.status,
      j.epoch,
      j.lastSeq,
      j.startedAt,
      j.updatedAt,
      j.finishedAt,
      j.requires,
    ];
    parameters.push(e.jobId, e.seq, e.type, e.data, e.recordedAt);
    if (added.jobId.length > 0) parameters.push(added.jobId, added.timerId, added.fireAt);
    if (removed.jobId.length > 0) parameters.push(removed.jobId, removed.timerId);
    // Built and compiled once per shape: the builders are not needed again (nor allocated) after.
    const text = this.#appendTexts.get(shape.key) ?? this.#compileAppend(plan, shape, parameters.length);
    return { text, parameters };
  }

  /** The append statement for a batch of `plan`'s shape (see {@link append}), compiled and cached. */
  #compileAppend(plan: AppendPlan, shape: BatchShape, parameterCount: number): string {
    const { jobEvents, jobs, timers } = this.#tables;
    const { jobs: j, events: e, addedTimers: added, removedTimers: removed } = plan;
    const { extending, creating } = shape;
    const parts: RawBuilder<unknown>[] = [
      sql`v as (
        select * from unnest(${j.jobId}::text[], ${j.expectedSeq}::int4[], ${j.workflow}::text[], ${j.version}::text[],
          ${j.status}::text[], ${j.epoch}::int4[], ${j.lastSeq}::int4[], ${j.startedAt}::float8[], ${j.updatedAt}::float8[],
          ${j.finishedAt}::float8[], ${j.requires}::text[])
          as v(job_id, expected_seq, workflow, version, status, epoch, last_seq, started_at, updated_at, finished_at, requires)
      )`,
    ];
    const winners: RawBuilder<unknown>[] = [];
    if (extending > 1) {
      parts.push(sql`locked as (
        select job_id from ${jobs}
        where job_id in (select job_id from v where expected_seq > 0)
        order by job_id
        for update
      )`);
    }
    if (extending > 0) {
      parts.push(sql`updated as (
        update ${jobs} as j set workflow = v.workflow, version = v.version, status = v.status, epoch = v.epoch, last_seq = v.last_seq,
          started_at = to_timestamp(v.started_at / 1000),
          updated_at = to_timestamp(v.updated_at / 1000), finished_at = to_timestamp(v.finished_at / 1000)
        from v ${extending > 1 ? sql`join locked on locked.job_id = v.job_id` : sql``}
        where j.job_id = v.job_id and j.last_seq = v.expected_seq and v.expected_seq > 0
        returning j.job_id
      )`);
      winners.push(sql`select job_id from updated`);
    }
    if (creating > 0) {
      parts.push(sql`created as (
        insert into ${jobs} (job_id, workflow, version, status, epoch, last_seq, started_at, updated_at, finished_at)
        select job_id, workflow, version, status, epoch, last_seq, to_timestamp(started_at / 1000), to_timestamp(updated_at / 1000),
          to_timestamp(finished_at / 1000)
        from v where expected_seq = 0 and (v.requires is null${extending > 0 ? sql` or v.requires in (select job_id from updated)` : sql``})
        order by job_id
        on conflict (job_id) do nothing
        returning job_id
      )`);
      winners.push(sql`select job_id from created`);
    }
    parts.push(
      sql`won as (${sql.join(winners, sql` union all `)})`,
      sql`appended as (
        insert into ${jobEvents} (job_id, seq, type, data, recorded_at)
        select e.job_id, e.seq, e.type, decode(e.data, 'hex'), to_timestamp(e.recorded_at / 1000)
        from unnest(${e.jobId}::text[], ${e.seq}::int4[], ${e.type}::text[], ${e.data}::text[], ${e.recordedAt}::float8[])
          as e(job_id, seq, type, data, recorded_at)
        where e.job_id in (select job_id from won)
      )`,
    );
    if (added.jobId.length > 0) {
      parts.push(sql`added as (
        insert into ${timers} (job_id, timer_id, fire_at)
        select t.job_id, t.timer_id, to_timestamp(t.fire_at / 1000)
        from unnest(${added.jobId}::text[], ${added.timerId}::text[], ${added.fireAt}::float8[]) as t(job_id, timer_id, fire_at)
        where t.job_id in (select job_id from won)
        on conflict (job_id, timer_id) do update set fire_at = excluded.fire_at, claimed_until = null
      )`);
    }
    if (removed.jobId.length > 0) {
      parts.push(sql`removed as (
        delete from ${timers} as t
        using unnest(${removed.jobId}::text[], ${removed.timerId}::text[]) as r(job_id, timer_id)
        where t.job_id = r.job_id and t.timer_id = r.timer_id and r.job_id in (select job_id from won)
      )`);
    }
    const compiled = sql`with ${sql.join(parts, sql`, `)} select job_id from won`.compile(this.#db);
    if (compiled.parameters.length !== parameterCount)
      throw new Error(`append statement takes ${compiled.parameters.length} parameters, not ${parameterCount}`);
    this.#appendTexts.set(shape.key, compiled.sql);
    return compiled.sql;
  }

  /** A read through the gate, sent once more if its connection turned out to be gone (see {@link readOnceMore}). */
  #readOp<T>(work: () => Promise<T>): Promise<T> {
    return this.#gate.run(() => readOnceMore(work));
  }

  async read(jobId: string, afterSeq = 0, limit?: number): Promise<readonly RecordedEvent[]> {
    const rows = await this.readEncoded(jobId, afterSeq, limit);
    return rows.map((row) => ({ seq: row.seq, recordedAt: row.recordedAt, event: decode(row.data) as JobEvent }));
  }

  readEncoded(jobId: string, afterSeq = 0, limit?: number): Promise<readonly EncodedEvent[]> {
    return this.#readOp(async () => {
      // Seqs are dense: a page is a range of seqs, which the primary key serves without a sort.
      const until = limit === undefined ? sql`` : sql` and seq <= ${afterSeq + limit}::int4`;
      const { rows } = await sql<{ seq: number; data: Uint8Array; recorded_at: number }>`
        select seq, data, ${epochMs(sql.ref('recorded_at'))} as recorded_at from ${this.#tables.jobEvents}
        where job_id = ${jobId} and seq > ${afterSeq}::int4${until} order by seq`.execute(this.#statements);
      return rows.map((row) => ({ seq: row.seq, recordedAt: row.recorded_at, data: row.data }));
    });
  }

  /**
   * One statement: the job's snapshot (of the current fold format) and the events after it.
   * The snapshot row comes first (`kind` 0), the events after it (`kind` 1).
   */
  readLatest(jobId: string): Promise<LatestRead> {
    return this.#readOp(async () => {
      const { jobEvents, snapshots } = this.#tables;
      const { rows } = await sql<{ kind: number; seq: number; data: Uint8Array; recorded_at: number }>`
        with snap as (select seq, state from ${snapshots} where job_id = ${jobId} and format = ${JOB_STATE_FORMAT}::int4)
        select 0 as kind, seq, state as data, 0::float8 as recorded_at from snap
        union all
        select 1 as kind, seq, data, ${epochMs(sql.ref('recorded_at'))} as recorded_at from ${jobEvents}
        where job_id = ${jobId} and seq > coalesce((select seq from snap), 0)
        order by kind, seq`.execute(this.#statements);
      const first = rows[0];
      const snapshot = first?.kind === 0 ? (decode(first.data) as JobState) : undefined;
      const events = (snapshot ? rows.slice(1) : rows).map((row) => ({
        seq: row.seq,
        recordedAt: row.recorded_at,
        event: decode(row.data) as JobEvent,
      }));
      return snapshot ? { snapshot, events } : { events };
    });
  }

  writeSnapshot(state: JobState): Promise<void> {
    return this.#gate.run(async () => {
      // Snapshots may land out of order; only a later one replaces what is there.
      await sql`
        insert into ${this.#tables.snapshots} as s (job_id, seq, format, state)
        values (${state.jobId}, ${state.lastSeq}::int4, ${JOB_STATE_FORMAT}::int4, ${encode(state)})
        on conflict (job_id) do update set seq = excluded.seq, format = excluded.format, state = excluded.state
        where s.seq < excluded.seq or s.format <> excluded.format`.execute(this.#statements);
    });
  }

  getJob(jobId: string): Promise<JobRow | undefined> {
    return this.#readOp(async () => {
      const { rows } = await sql<JobRowColumns>`
        select ${JOB_ROW_COLUMNS} from ${this.#tables.jobs} where job_id = ${jobId}`.execute(this.#statements);
      const row = rows[0];
      return row === undefined ? undefined : jobRowFrom(row);
    });
  }

  listJobs(query: JobListQuery): Promise<readonly JobRow[]> {
    return this.#readOp(async () => {
      const problem = query.jobIdPrefix === undefined ? undefined : jobIdPrefixProblem(query.jobIdPrefix);
      if (problem !== undefined) throw new TypeError(problem);
      if (!Number.isInteger(query.limit) || query.limit < 1) throw new TypeError(`limit must be a positive integer, got ${query.limit}`);
      const { jobs } = this.#tables;
      let plan: 'prefix-index' | 'start-order' = 'prefix-index';
      if (query.jobIdPrefix !== undefined) {
        // A second statement, but only for a search: a generic plan cannot tell a prefix every job
        // shares from one that names a single job, so the store asks first.
        const probe = await prefixProbeStatement(jobs, query.jobIdPrefix).execute(this.#statements);
        if ((probe.rows[0]?.matches ?? 0) > PREFIX_SORT_LIMIT) plan = 'start-order';
      }
      const { rows } = await listJobsStatement(jobs, query, JOB_ROW_COLUMNS, plan).execute(this.#statements);
      return (rows as JobRowColumns[]).map(jobRowFrom);
    });
  }

  /**
   * One UPDATE over a `FOR UPDATE SKIP LOCKED` subquery: concurrent claimers skip each other's
   * rows, and one that read a row before another's claim committed re-checks `claimed_until` on
   * the new row version and drops it. Timers come back in `fireAt` order.
   */
  claimDueTimers(now: number, limit: number, leaseMs: number): Promise<readonly DueTimer[]> {
    return this.#gate.run(async () => {
      const { timers } = this.#tables;
      const { rows } = await sql<{ job_id: string; timer_id: string; fire_at: number }>`
        update ${timers} as t set claimed_until = to_timestamp((${now}::float8 + ${leaseMs}::float8) / 1000)
        from (
          select job_id, timer_id from ${timers}
          where fire_at <= to_timestamp(${now}::float8 / 1000)
            and (claimed_until is null or claimed_until <= to_timestamp(${now}::float8 / 1000))
          order by fire_at
          limit ${limit}::int4
          for update skip locked
        ) as due
        where t.job_id = due.job_id and t.timer_id = due.timer_id
        returning t.job_id, t.timer_id, ${epochMs(sql.ref('t.fire_at'))} as fire_at`.execute(this.#statements);
      return rows
        .map((row) => ({ jobId: row.job_id, timerId: row.timer_id, fireAt: row.fire_at }))
        .sort((a, b) => a.fireAt - b.fireAt || compare(a.jobId, b.jobId) || compare(a.timerId, b.timerId));
    });
  }

  /**
   * The earliest moment {@link claimDueTimers} could return a timer: the `fireAt` of unclaimed
   * timers and, for claimed ones, the end of their lease. A timer loop sleeping until then never
   * spins on a timer another engine holds.
   */
  nextTimerAt(): Promise<number | undefined> {
    return this.#readOp(async () => {
      const { timers } = this.#tables;
      const { rows } = await sql<{ at: number | null }>`
        select ${epochMs(sql`least(
          (select min(fire_at) from ${timers} where claimed_until is null),
          (select min(claimed_until) from ${timers} where claimed_until is not null))`)} as at`.execute(this.#statements);
      return rows[0]?.at ?? undefined;
    });
  }

  listJobIds(options: { status: JobRow['status']; workflow?: string; afterJobId?: string; limit: number }): Promise<readonly string[]> {
    return this.#readOp(async () => {
      const { jobs } = this.#tables;
      const { rows } = await sql<{ job_id: string }>`
        select job_id from ${jobs}
        where status = ${options.status}
          and (${options.workflow ?? null}::text is null or workflow = ${options.workflow ?? null}::text)
          and job_id > ${options.afterJobId ?? ''}
        order by job_id
        limit ${options.limit}::int4`.execute(this.#statements);
      return rows.map((row) => row.job_id);
    });
  }

  listRunnableJobs(limit: number): Promise<readonly { jobId: string; epoch: number }[]> {
    return this.#readOp(async () => {
      const { jobs, timers } = this.#tables;
      const { rows } = await sql<{ job_id: string; epoch: number }>`
        select j.job_id, j.epoch from ${jobs} as j
        where j.status = 'running' and not exists (select 1 from ${timers} as t where t.job_id = j.job_id)
        order by j.started_at, j.job_id
        limit ${limit}::int4`.execute(this.#statements);
      return rows.map((row) => ({ jobId: row.job_id, epoch: row.epoch }));
    });
  }

  openBreaker(name: string): Promise<BreakerRow> {
    return this.#gate.run(() => openBreakerRow(this.#runBreaker, this.#breakers, name));
  }

  writeBreaker(name: string, expectedVersion: number, write: BreakerWrite): Promise<number | undefined> {
    return this.#gate.run(() => writeBreakerRow(this.#runBreaker, this.#breakers, name, expectedVersion, write));
  }

  updateBreaker(name: string, change: (row: BreakerRow) => BreakerWrite | undefined): Promise<BreakerRow> {
    return this.#gate.run(() => updateBreakerRow(this.#db as Kysely<unknown>, this.#breakers, name, change));
  }

  listBreakers(): Promise<readonly BreakerRow[]> {
    return this.#readOp(() => listBreakerRows(this.#runBreaker, this.#breakers));
  }

  readBreakerEvents(name?: string): Promise<readonly RecordedBreakerEvent[]> {
    return this.#readOp(() => readBreakerEvents(this.#runBreaker, this.#breakers, name));
  }

  /**
   * Refuses new operations, lets running ones finish (for up to {@link CLOSE_GRACE_MS}), then
   * releases the connection or database; later calls wait for the first.
   */
  close(): Promise<void> {
    this.#closed ??= this.#gate.close(CLOSE_GRACE_MS, this.#release);
    return this.#closed;
  }
}

interface JobRowColumns {
  job_id: string;
  workflow: string;
  version: string;
  status: JobStatus;
  epoch: number;
  last_seq: number;
  started_at: number;
  updated_at: number;
  finished_at: number | null;
}

function jobRowFrom(row: JobRowColumns): JobRow {
  return {
    jobId: row.job_id,
    workflow: row.workflow,
    version: row.version,
    status: row.status,
    epoch: row.epoch,
    lastSeq: row.last_seq,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
  };
}

/** A timestamptz as epoch milliseconds, computed by Postgres so the drivers never parse dates. */
function epochMs(timestamp: RawBuilder<unknown>): RawBuilder<number> {
  return sql<number>`round(extract(epoch from ${timestamp}) * 1000)::float8`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The columns of a {@link JobRow}, times as epoch milliseconds. */
const JOB_ROW_COLUMNS = sql`job_id, workflow, version, status, epoch, last_seq, ${epochMs(sql.ref('started_at'))} as started_at,
  ${epochMs(sql.ref('updated_at'))} as updated_at, ${epochMs(sql.ref('finished_at'))} as finished_at`;

/** What the append statement of a batch depends on: how many jobs it extends and creates, and whether it adds or removes timers. */
interface BatchShape {
  readonly key: string;
  readonly extending: number;
  readonly creating: number;
}

function shapeOf(plan: AppendPlan): BatchShape {
  const extending = plan.jobs.expectedSeq.filter((seq) => seq > 0).length;
  const creating = plan.jobs.expectedSeq.length - extending;
  const key = `${extending > 1}${extending > 0}${creating > 0}${plan.addedTimers.jobId.length > 0}${plan.removedTimers.jobId.length > 0}`;
  return { key, extending, creating };
}
