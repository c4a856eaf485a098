import type { ColumnType } from 'kysely';

/**
 * The store's tables as kysely sees them. Times are `timestamptz`; the store reads them back as
 * epoch milliseconds in SQL (see `epochMs`), so the drivers never parse dates.
 */
export interface Database {
  job_events: JobEventsTable;
  jobs: JobsTable;
  timers: TimersTable;
}

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface JobEventsTable {
  job_id: string;
  seq: number;
  type: string;
  /** The event as MessagePack (protocol `encode`). */
  data: Uint8Array;
  recorded_at: Timestamp;
}

export interface JobsTable {
  job_id: string;
  workflow: string;
  version: string;
  status: string;
  epoch: number;
  last_seq: number;
  started_at: Timestamp;
  updated_at: Timestamp;
  finished_at: Timestamp | null;
}

export interface TimersTable {
  job_id: string;
  timer_id: string;
  fire_at: Timestamp;
  /** Set while an engine holds the timer (claimDueTimers); null when unclaimed. */
  claimed_until: Timestamp | null;
}
