import type { ResolvedBreakerPolicy } from './breaker-policy.ts';
import type { ForkOrigin, JobEvent, RecordedEvent } from './events.ts';
import type { Failure } from './failure.ts';
import type { JobState, JobStatus } from './job-state.ts';

/** Requests the engine serves over request/reply. It is the only writer of the log. */
export type EngineCommand =
  | StartJob
  | AppendEvents
  | AppendBatch
  | ReadHistory
  | GetJob
  | ClaimJob
  | ReleaseJob
  | SignalJob
  | CancelJob
  | DescribeJob
  | AcquireBreaker
  | ControlBreaker
  | ListJobs
  | ForkJob;

/**
 * Start a new job that reuses job `jobId`'s recorded prefix up to step `from` and runs on from
 * there (on the current code). `setOutputs` replaces recorded results of steps in the prefix.
 */
export interface ForkJob {
  readonly type: 'ForkJob';
  /** The job to fork from. */
  readonly jobId: string;
  /** The step the fork runs again from (its first attempt, by name). */
  readonly from: string;
  /** Results to record instead of the source's, by step name; each step must be in the prefix. */
  readonly setOutputs?: Readonly<Record<string, unknown>>;
  /** The new job's id. @default a new ULID */
  readonly forkJobId?: string;
  /** The new job's workflow version. @default the source job's */
  readonly version?: string;
}

export interface ForkJobReply {
  readonly jobId: string;
  readonly job: JobSummary;
  readonly forkedFrom: ForkOrigin;
}

/** Ids of jobs in a status (of a workflow), a page at a time. */
export interface ListJobs {
  readonly type: 'ListJobs';
  readonly status: JobStatus;
  readonly workflow?: string;
  readonly afterJobId?: string;
  /** @default 500 */
  readonly limit?: number;
}

/** May a call guarded by breaker `name` run now? The worker sends the policy it was defined with. */
export interface AcquireBreaker {
  readonly type: 'AcquireBreaker';
  readonly name: string;
  readonly policy: ResolvedBreakerPolicy;
}

export interface BreakerAdmission {
  readonly admitted: boolean;
  /** Admitted as a half-open probe. */
  readonly probe: boolean;
  /** Not admitted: ask again at this time. */
  readonly retryAt?: number;
}

/** Operator actions on breakers: list them, trip one open (for `forMs`), reset one closed. */
export interface ControlBreaker {
  readonly type: 'ControlBreaker';
  readonly op: 'list' | 'trip' | 'reset';
  readonly name?: string;
  readonly forMs?: number;
}

/** What `ratchet breaker list` shows of a breaker. */
export interface BreakerSummary {
  readonly name: string;
  readonly status: 'closed' | 'open' | 'half-open';
  readonly openUntil?: number;
  readonly consecutiveFailures: number;
  readonly probesInFlight: number;
}

/**
 * What a start does when a job with its id exists: `attach` returns that job; `reject` refuses
 * with `JobExistsError`; `new-run-if-failed` starts a new run of a job that failed or was
 * cancelled (in the same log, after the runs before it) and attaches to any other.
 */
export type OnExisting = 'attach' | 'reject' | 'new-run-if-failed';

/** Start a job; with a `jobId` that exists already, the existing job is returned instead. */
export interface StartJob {
  readonly type: 'StartJob';
  readonly workflow: string;
  readonly input: unknown;
  readonly jobId?: string;
  readonly version?: string;
  /** @default 'attach' */
  readonly onExisting?: OnExisting;
  /** For a child job: its parent and the position of the `ctx.child` call. */
  readonly parent?: { readonly jobId: string; readonly position: number };
  /** The job fails with WorkflowTimeoutError if it has not finished this long after its start. */
  readonly timeoutMs?: number;
  /**
   * Set by a client that made `jobId` up itself just now (a new ULID): no job can have it, so
   * the engine may send the first task while the start commits. Never set it for an id that
   * came from elsewhere.
   */
  readonly freshId?: boolean;
}

/** Append events a worker produced, extending `expectedSeq`, under the delivery's `epoch`. */
export interface AppendEvents {
  readonly type: 'AppendEvents';
  readonly jobId: string;
  readonly expectedSeq: number;
  readonly epoch: number;
  readonly events: readonly JobEvent[];
}

/**
 * Appends of several jobs in one message: a worker sends what its runs queued in one turn
 * together. Each is checked and fenced on its own and gets its own reply (`AppendBatchReply`),
 * as if it had been sent alone.
 */
export interface AppendBatch {
  readonly type: 'AppendBatch';
  readonly appends: readonly AppendEvents[];
}

/** Read a job's events after `afterSeq`. */
export interface ReadHistory {
  readonly type: 'ReadHistory';
  readonly jobId: string;
  readonly afterSeq: number;
  /**
   * With `afterSeq` 0: the reader wants the job's state, not its events. The engine answers
   * with the folded `state` (from its cache, or a stored snapshot plus the tail) when it fits in
   * one reply, and with the events otherwise.
   */
  readonly asState?: boolean;
}

export interface GetJob {
  readonly type: 'GetJob';
  readonly jobId: string;
}

/** Take over a job at `epoch` (from a redelivered task); the engine moves it to a new epoch. */
export interface ClaimJob {
  readonly type: 'ClaimJob';
  readonly jobId: string;
  readonly epoch: number;
  readonly worker: string;
}

/**
 * Let go of a job held at `epoch` (a worker stopping before its work is done): its open attempts
 * are recorded as interrupted and the job is dispatched again at a new epoch.
 */
export interface ReleaseJob {
  readonly type: 'ReleaseJob';
  readonly jobId: string;
  readonly epoch: number;
  readonly worker: string;
  readonly reason: string;
}

/** Deliver a signal to a running job; it waits in the job's inbox until a wait takes it. */
export interface SignalJob {
  readonly type: 'SignalJob';
  readonly jobId: string;
  readonly name: string;
  readonly payload: unknown;
}

/**
 * Cancel a running job: its workflow gets a `CancelledError` at its next durable call and may
 * compensate; with `terminate`, the job ends at once without its workflow running again.
 */
export interface CancelJob {
  readonly type: 'CancelJob';
  readonly jobId: string;
  readonly reason: string;
  readonly terminate: boolean;
}

/** The whole folded state of a job (JobState), for looking in from outside. */
export interface DescribeJob {
  readonly type: 'DescribeJob';
  readonly jobId: string;
}

/** A job at a glance: the `jobs` projection's row. */
export interface JobRow {
  readonly jobId: string;
  readonly workflow: string;
  readonly version: string;
  readonly status: JobStatus;
  readonly epoch: number;
  readonly lastSeq: number;
  readonly startedAt: number;
  readonly updatedAt: number;
  readonly finishedAt?: number;
}

/** The row of a folded state. */
export function jobRowOf(state: JobState): JobRow {
  return {
    jobId: state.jobId,
    workflow: state.workflow,
    version: state.version,
    status: state.status,
    epoch: state.epoch,
    lastSeq: state.lastSeq,
    startedAt: state.startedAt,
    updatedAt: state.updatedAt,
    ...(state.finishedAt === undefined ? {} : { finishedAt: state.finishedAt }),
  };
}

/** What the outside sees of a job without its journal. */
export interface JobSummary extends JobRow {
  /** Set when the job continued as a new job. */
  readonly continuedAs?: string;
  readonly output?: unknown;
  readonly failure?: Failure;
}

export interface StartJobReply {
  readonly jobId: string;
  /** False when a job with this id existed already and was returned instead. */
  readonly created: boolean;
  readonly job: JobSummary;
}

export interface AppendEventsReply {
  readonly lastSeq: number;
  /**
   * The engine that carried the append out. It also serves `Subjects.engine(id)`: the job's next
   * appends sent there find the job's state in its cache, where another replica would read the
   * log's tail first.
   */
  readonly engine?: string;
  /**
   * The successor's job id, when the append ended the job by continuing it as new: the engine
   * names it in the `JobContinued` it records (the worker's event leaves it out).
   */
  readonly continuedAs?: string;
  /**
   * Inbox events (signals, a cancellation) that arrived after the seq the append extended and
   * before it: the worker holding the job learns of them here.
   */
  readonly inbox?: readonly RecordedEvent[];
}

/** One reply per append of an `AppendBatch`, in its order. */
export interface AppendBatchReply {
  readonly results: readonly Reply<AppendEventsReply>[];
}

export interface ReadHistoryReply {
  readonly job: JobSummary;
  /** Given for an `asState` read: the job's whole fold (then `events` is empty). */
  readonly state?: JobState;
  readonly events: readonly RecordedEvent[];
  /** The reply stopped short to stay within a message's size: read on from the last seq. */
  readonly more?: boolean;
}

export interface ClaimJobReply {
  readonly epoch: number;
  readonly lastSeq: number;
}

/** The reply each command gets, by command type. */
export interface CommandReplies {
  readonly StartJob: StartJobReply;
  readonly AppendEvents: AppendEventsReply;
  readonly AppendBatch: AppendBatchReply;
  readonly ReadHistory: ReadHistoryReply;
  readonly GetJob: JobSummary;
  readonly ClaimJob: ClaimJobReply;
  readonly ReleaseJob: ClaimJobReply;
  /** `jobId`: the job that took the signal — the one named, or the run it continued as. */
  readonly SignalJob: { readonly signalId: string; readonly jobId: string };
  readonly CancelJob: JobSummary;
  readonly DescribeJob: JobState;
  readonly AcquireBreaker: BreakerAdmission;
  readonly ControlBreaker: readonly BreakerSummary[];
  readonly ListJobs: { readonly jobIds: readonly string[] };
  readonly ForkJob: ForkJobReply;
}

/** Every reply is an envelope: a value, or a failure as data. */
export type Reply<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: Failure };

/** A worker announces which workflows it can run, so the engine can reject unknown names. */
export interface WorkerAnnounced {
  readonly worker: string;
  readonly workflows: readonly string[];
}
