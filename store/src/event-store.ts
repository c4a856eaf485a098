import type { BreakerEvent, JobEvent, JobRow, RecordedEvent, TimerState } from '@ratchet/protocol';

/**
 * The log and its projections. The engine is its only writer. Implementations:
 * `PostgresEventStore` (kysely + postgres.js) and `PgliteEventStore` (embedded, on disk); both
 * pass the same contract suite (tests/integration/store-contract.test.ts).
 */
export interface EventStore {
  /** Creates or upgrades the schema. Idempotent; safe when several engines start at once. */
  migrate(): Promise<void>;
  /**
   * Appends to many jobs in ONE transaction (group commit). Each request extends its job's log
   * from `expectedSeq`; a request whose job has moved on (or, with `expectedSeq` 0, exists)
   * gets `{ ok: false, reason: 'conflict' }` and writes nothing, without failing the others.
   * The `jobs` and `timers` projections are written in the same transaction.
   */
  append(requests: readonly AppendRequest[]): Promise<readonly AppendResult[]>;
  /** Events of `jobId` with seq > `afterSeq`, in order, at most `limit` of them (empty for an unknown job). */
  read(jobId: string, afterSeq?: number, limit?: number): Promise<readonly RecordedEvent[]>;
  /** The `jobs` projection row, or undefined. */
  getJob(jobId: string): Promise<JobRow | undefined>;
  /**
   * Claims up to `limit` timers due at `now` that no one else holds, for `leaseMs` (FOR UPDATE
   * SKIP LOCKED, so several engines never claim the same timer). A claimed timer is removed when
   * the append recording its firing lands; if the claimer dies, the lease runs out and another
   * engine claims it.
   */
  claimDueTimers(now: number, limit: number, leaseMs: number): Promise<readonly DueTimer[]>;
  /**
   * The earliest moment `claimDueTimers` can return a timer — the `fireAt` of unclaimed timers,
   * the lease end of claimed ones — or undefined when no timer is pending.
   */
  nextTimerAt(): Promise<number | undefined>;
  /** Running jobs that wait on no timer: those to dispatch again when an engine starts. */
  listRunnableJobs(limit: number): Promise<readonly { jobId: string; epoch: number }[]>;
  /** Ids of jobs in `status` (of `workflow`, when given), oldest first, after `afterJobId` (paging). */
  listJobIds(options: { status: JobRow['status']; workflow?: string; afterJobId?: string; limit: number }): Promise<readonly string[]>;
  /** Appends transitions to a breaker's own stream, after its last. */
  appendBreakerEvents(name: string, events: readonly BreakerEvent[], recordedAt: number): Promise<void>;
  /** Every breaker's stream, oldest first. */
  readBreakerEvents(): Promise<
    readonly { readonly name: string; readonly seq: number; readonly recordedAt: number; readonly event: BreakerEvent }[]
  >;
  close(): Promise<void>;
}

export interface AppendRequest {
  readonly jobId: string;
  readonly expectedSeq: number;
  readonly events: readonly JobEvent[];
  /** Commit time the engine assigns to every event of this request (ms since epoch). */
  readonly recordedAt: number;
  /** The job row after these events (the engine folded them). */
  readonly job: JobRow;
  /**
   * For a request that creates a job: create it only if the request for job `requires`, in the
   * same batch, wins (a successor is created with the ending of its predecessor, or not at all).
   */
  readonly requires?: string;
  /** Timers the events start, and timer ids they fire or cancel. */
  readonly timers: { readonly added: readonly TimerState[]; readonly removed: readonly string[] };
}

export type AppendResult =
  | { readonly jobId: string; readonly ok: true }
  | { readonly jobId: string; readonly ok: false; readonly reason: 'conflict' };

/** The `jobs` projection: what lists and lookups need without reading the log. */
export type { JobRow };

export interface DueTimer {
  readonly jobId: string;
  readonly timerId: string;
  readonly fireAt: number;
}
