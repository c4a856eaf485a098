import type {
  BreakerEvent,
  BreakerState,
  JobEvent,
  JobRow,
  JobState,
  RecordedEvent,
  ResolvedBreakerPolicy,
  TimerState,
} from '@ratchet/protocol';
import type { JobListQuery } from './list-jobs.ts';

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
  /** `read`, with each event as stored (MessagePack), for passing on without decoding it. */
  readEncoded(jobId: string, afterSeq?: number, limit?: number): Promise<readonly EncodedEvent[]>;
  /**
   * The job's latest snapshot of JobState (if one of the current `JOB_STATE_FORMAT` is stored)
   * and the events after it, in one read: folding `events` onto `snapshot` gives the state.
   */
  readLatest(jobId: string): Promise<LatestRead>;
  /** Stores `state` as the job's snapshot unless a later one is there. Not part of any append. */
  writeSnapshot(state: JobState): Promise<void>;
  /** The `jobs` projection row, or undefined. */
  getJob(jobId: string): Promise<JobRow | undefined>;
  /**
   * A page of the job list, newest start first (ties by job id, descending), narrowed by status,
   * workflow and job id prefix; paged by keyset (`after`), never by offset. Each filter has its
   * index (migration 0005), so a page costs one index range whatever the page number.
   */
  listJobs(query: JobListQuery): Promise<readonly JobRow[]>;
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
  /**
   * The breaker's row (one statement when it exists). A breaker without one gets it here, folded
   * from its stream: one only engines before the `breakers` table wrote, or a new one (closed).
   */
  openBreaker(name: string): Promise<BreakerRow>;
  /**
   * Writes the breaker's row if it is still at `expectedVersion`, appending `write.events` to its
   * stream in the same statement; resolves to the new version, or undefined when another writer
   * got there first (nothing is written then).
   */
  writeBreaker(name: string, expectedVersion: number, write: BreakerWrite): Promise<number | undefined>;
  /**
   * In one transaction: reads the breaker's row (opened before) under its lock, asks `change`
   * what to write (undefined: nothing), writes that with its events, and resolves to the row as
   * it left it. For a writer that lost a race: others wait for the lock instead of winning again.
   * Other writers of the breaker wait while `change` runs, so it must only compute.
   */
  updateBreaker(name: string, change: (row: BreakerRow) => BreakerWrite | undefined): Promise<BreakerRow>;
  /** Every breaker: the rows, and the state folded from its stream of a breaker without one (at version 0). */
  listBreakers(): Promise<readonly BreakerRow[]>;
  /** Every breaker's stream of transitions (only `name`'s, when given), oldest first. */
  readBreakerEvents(name?: string): Promise<readonly RecordedBreakerEvent[]>;
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

/**
 * A breaker's row: the whole state its decisions depend on, shared by every engine, and the
 * version the last write of it made (writes compare it).
 */
export interface BreakerRow {
  readonly version: number;
  readonly state: BreakerState;
  /** The policy the latest admission came with: outcomes are judged by it. None before any admission. */
  readonly policy?: ResolvedBreakerPolicy;
}

/** What a write puts in a breaker's row, and the transitions it appends to the breaker's stream. */
export interface BreakerWrite {
  readonly state: BreakerState;
  readonly policy?: ResolvedBreakerPolicy | undefined;
  readonly events: readonly BreakerEvent[];
  /** Commit time of the events (ms since epoch). */
  readonly recordedAt: number;
}

/** A transition in a breaker's stream. */
export interface RecordedBreakerEvent {
  readonly name: string;
  readonly seq: number;
  readonly recordedAt: number;
  readonly event: BreakerEvent;
}

/** A snapshot and the events after it (all events when there is no snapshot). */
export interface LatestRead {
  readonly snapshot?: JobState;
  readonly events: readonly RecordedEvent[];
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

/** An event as the log stores it: `data` is its MessagePack encoding (protocol `encode`). */
export interface EncodedEvent {
  readonly seq: number;
  readonly recordedAt: number;
  readonly data: Uint8Array;
}
