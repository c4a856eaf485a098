import type { IdFactory, JobState, RecordedEvent, Timers } from '@ratchet/protocol';
import type { Transport } from '@ratchet/sdk/transport';
import type { EventStore } from '@ratchet/store';
import type { Logger } from 'pino';

/** How an `Engine` is set up: its store and transport, and tunables that all have defaults. */
export interface EngineOptions {
  readonly store: EventStore;
  readonly transport: Transport;
  /** Subject prefix of the installation: 1-64 lowercase letters, digits and `-` (else a RangeError). @default 'ratchet' */
  readonly prefix?: string;
  /** @default pino at 'info' */
  readonly logger?: Logger;
  /** @default Date.now */
  readonly clock?: () => number;
  /**
   * What the timer loop waits with; must tell the same time as `clock` (the test kit passes a
   * virtual clock and its timers). @default REAL_TIMERS (Node's)
   */
  readonly timers?: Timers;
  /** @default ULIDs */
  readonly ids?: IdFactory;
  /** Commands larger than this are refused. @default 1 MiB */
  readonly maxPayloadBytes?: number;
  /** Folded job states kept in memory. @default 10000 */
  readonly cacheSize?: number;
  /** Most appends in one group commit. @default 512 */
  readonly maxBatch?: number;
  /** How often to look for timers other engines wrote. @default 1000 */
  readonly timerPollMs?: number;
  /** @default 30000 */
  readonly timerLeaseMs?: number;
  /**
   * How long a breaker's half-open probe may take from its admission to its `StepStarted`; a
   * probe whose worker died or was fenced off in between gives its slot back after this.
   * @default 10000
   */
  readonly probeStartLeaseMs?: number;
  /**
   * Set when workers run in the engine's process (`ratchet dev`): on start, no worker from
   * before survives, so attempts left open are recorded as lost (and retried) at once.
   * @default false
   */
  readonly workersRestartWithEngine?: boolean;
  /** How often to look for running jobs left without a task. @default 30000 */
  readonly recoveryIntervalMs?: number;
  /**
   * Most events a job's log may hold (an ending may still follow); at 80% the log says so
   * (`HistoryWarned`). @default 50000
   */
  readonly historyLimit?: number;
  /**
   * A job's folded state is stored as a snapshot each time its log passes another this many
   * events, so a cold load reads the snapshot and the tail. @default 1000
   */
  readonly snapshotEvery?: number;
  /**
   * Told of every committed append, in commit order per job (for live views such as `ratchet dev`).
   * What it throws is logged: the append has committed and is answered as such.
   */
  readonly observer?: (change: JobChange) => void;
}

/** A committed append: the job's state after it and the events as recorded. */
export interface JobChange {
  readonly state: JobState;
  readonly events: readonly RecordedEvent[];
}
