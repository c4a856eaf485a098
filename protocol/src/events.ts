import type { Failure } from './failure.ts';
import type { ResolvedRetryPolicy } from './retry-policy.ts';

/**
 * Facts in a job's log, in the past tense, never changed. Positions number the workflow's durable
 * calls (`ctx.step`, `ctx.sleep`, `ctx.now`, …) in the order the code makes them: a step's
 * `stepId` and a sleep's timer are their positions, which is how replay matches code to the log.
 */
export type JobEvent =
  | JobStarted
  | JobClaimed
  | JobReleased
  | StepStarted
  | StepCompleted
  | StepFailed
  | StepRetryScheduled
  | StepBlocked
  | TimerStarted
  | TimerFired
  | ValueRecorded
  | SignalReceived
  | WaitStarted
  | WaitEnded
  | CancelRequested
  | CancelDelivered
  | ChildStarted
  | ChildFinished
  | HistoryWarned
  | JobCompleted
  | JobFailed
  | JobCancelled
  | JobContinued;

/**
 * The job exists (or, after it failed or was cancelled, starts a new run in the same log, when
 * the start asked for that). Its first delivery runs at `epoch`.
 */
export interface JobStarted {
  readonly type: 'JobStarted';
  readonly workflow: string;
  readonly version: string;
  readonly input: unknown;
  /** 1 for a job's first run; a new run of a failed job moves past the epoch before it. */
  readonly epoch: number;
  readonly startedAt: number;
  /** Set on a child job: the parent and the position of its `ctx.child` call. */
  readonly parent?: { readonly jobId: string; readonly position: number };
  /** The job fails with WorkflowTimeoutError if it has not finished by then (absolute ms). */
  readonly deadline?: number;
  /** Set on a job made by `ForkJob`: the events right after this one are the copied prefix. */
  readonly forkedFrom?: ForkOrigin;
}

/**
 * Where a forked job came from: job `jobId`, cut just before the first attempt of step `step`.
 * The fork's log copies the journal events of the source up to the source's seq `seq`; they are
 * the `events` events right after the fork's `JobStarted` (seqs 2 to `events + 1`). Any events
 * the fork records about the cut itself (an attempt that was open there, ended) follow them.
 */
export interface ForkOrigin {
  readonly jobId: string;
  readonly step: string;
  readonly seq: number;
  readonly events: number;
  /** Step results the fork replaced in the prefix (`--set-output`), by step name. */
  readonly outputs?: Readonly<Record<string, unknown>>;
}

/**
 * A worker took over a job whose previous holder may be alive (a redelivered task): the epoch
 * moves on, so appends from the previous holder are rejected from now on.
 */
export interface JobClaimed {
  readonly type: 'JobClaimed';
  readonly epoch: number;
  readonly worker: string;
  readonly claimedAt: number;
}

/**
 * The worker holding a job let go of it (a graceful shutdown that ran out of grace): the epoch
 * moves on and the job is dispatched again.
 */
export interface JobReleased {
  readonly type: 'JobReleased';
  readonly epoch: number;
  readonly worker: string;
  readonly reason: string;
  readonly releasedAt: number;
}

/** An attempt of a step began; recorded before the step's side effect runs. */
export interface StepStarted {
  readonly type: 'StepStarted';
  readonly stepId: number;
  readonly name: string;
  readonly attempt: number;
  readonly startedAt: number;
  readonly worker: string;
  readonly epoch: number;
  /** Recorded with attempt 1; later attempts follow it. */
  readonly policy?: ResolvedRetryPolicy;
  readonly timeoutMs?: number;
  readonly heartbeatTimeoutMs?: number;
  /** The breaker that admitted this attempt, and whether as a half-open probe. */
  readonly breaker?: string;
  readonly probe?: boolean;
}

/**
 * The breaker guarding the step was open: attempt `attempt` did not start and is not spent.
 * Parked until `until` (a durable timer), or, with `fail`, the step fails with CircuitOpenError.
 * On a step's first call it records the step's settings, as a first StepStarted would.
 */
export interface StepBlocked {
  readonly type: 'StepBlocked';
  readonly stepId: number;
  readonly name: string;
  readonly attempt: number;
  readonly breaker: string;
  readonly until: number;
  readonly fail: boolean;
  readonly blockedAt: number;
  readonly policy?: ResolvedRetryPolicy;
  readonly timeoutMs?: number;
  readonly heartbeatTimeoutMs?: number;
}

export interface StepCompleted {
  readonly type: 'StepCompleted';
  readonly stepId: number;
  readonly attempt: number;
  readonly output: unknown;
  readonly completedAt: number;
}

/** An attempt failed. `final` means no attempt follows: the step has failed. */
export interface StepFailed {
  readonly type: 'StepFailed';
  readonly stepId: number;
  readonly attempt: number;
  readonly failure: Failure;
  readonly failedAt: number;
  readonly final: boolean;
  /** Why the step gives up, when `final`. */
  readonly reason?: string;
  /**
   * The details of the attempt's last heartbeat (`info.heartbeat(details)`), so the next attempt
   * can carry on from there. Only when the attempt failed in its worker; a crashed worker's are lost.
   */
  readonly heartbeat?: unknown;
}

/**
 * The next attempt is due at `at` (absolute). `durable` waits go through the engine's timers and
 * release the job; short ones are waited out by the worker holding the job.
 */
export interface StepRetryScheduled {
  readonly type: 'StepRetryScheduled';
  readonly stepId: number;
  readonly attempt: number;
  readonly at: number;
  readonly durable: boolean;
}

/** A durable sleep began (`ctx.sleep`); its timer id is its position. */
export interface TimerStarted {
  readonly type: 'TimerStarted';
  readonly position: number;
  readonly fireAt: number;
}

/** A timer came due; the job is dispatched again at a new epoch. */
export interface TimerFired {
  readonly type: 'TimerFired';
  readonly timerId: string;
  readonly epoch: number;
  readonly firedAt: number;
}

/** A value the workflow drew from the outside world (`ctx.now/random/uuid`), fixed for replay. */
export interface ValueRecorded {
  readonly type: 'ValueRecorded';
  readonly position: number;
  readonly kind: ValueKind;
  readonly value: number | string;
}

/** `patch`: a `ctx.patched(id)` marker, its value the patch id. */
export type ValueKind = 'now' | 'random' | 'uuid' | 'patch';

/** A signal arrived for the job (`client.signal`); it waits in the job's inbox, in order. */
export interface SignalReceived {
  readonly type: 'SignalReceived';
  readonly signalId: string;
  readonly name: string;
  readonly payload: unknown;
  readonly receivedAt: number;
}

/** The workflow waits for a signal named `name` (`ctx.waitForSignal`), until `timeoutAt` if given. */
export interface WaitStarted {
  readonly type: 'WaitStarted';
  readonly position: number;
  readonly name: string;
  readonly timeoutAt?: number;
}

/** The wait at `position` ended: with the signal `signalId` (taken from the inbox), or timed out. */
export interface WaitEnded {
  readonly type: 'WaitEnded';
  readonly position: number;
  readonly signalId?: string;
  readonly endedAt: number;
}

/** Someone asked the job to cancel (`client.cancel`); the workflow learns it at its next durable call. */
export interface CancelRequested {
  readonly type: 'CancelRequested';
  readonly reason: string;
  readonly requestedAt: number;
}

/**
 * The workflow was told of the cancellation (a `CancelledError`) at its call at `position`: a new
 * call, an open wait, or a step waiting for its next attempt (a retry or a breaker's block), which
 * ends there as failed with the `CancelledError`.
 */
export interface CancelDelivered {
  readonly type: 'CancelDelivered';
  readonly position: number;
}

/** The workflow started a child job (`ctx.child`); the engine creates it once this is durable. */
export interface ChildStarted {
  readonly type: 'ChildStarted';
  readonly position: number;
  readonly childJobId: string;
  readonly workflow: string;
  readonly input: unknown;
  /** Cancelling the parent cancels this child too. */
  readonly cancelWithParent: boolean;
}

/** A child job ended; the engine puts this in the parent's inbox. */
export interface ChildFinished {
  readonly type: 'ChildFinished';
  readonly position: number;
  readonly childJobId: string;
  readonly status: 'completed' | 'failed' | 'cancelled';
  readonly output?: unknown;
  readonly failure?: Failure;
  readonly finishedAt: number;
}

/** The job's log neared its limit; the workflow should continue as a new job. */
export interface HistoryWarned {
  readonly type: 'HistoryWarned';
  readonly limit: number;
  readonly warnedAt: number;
}

export interface JobCompleted {
  readonly type: 'JobCompleted';
  readonly output: unknown;
  readonly completedAt: number;
}

export interface JobFailed {
  readonly type: 'JobFailed';
  readonly failure: Failure;
  readonly failedAt: number;
}

/**
 * The job ended as cancelled: its workflow let a `CancelledError` end it, or it was terminated
 * (`client.terminate`) without its workflow running again.
 */
export interface JobCancelled {
  readonly type: 'JobCancelled';
  readonly reason: string;
  readonly terminated: boolean;
  readonly cancelledAt: number;
}

/**
 * The job ended by continuing as a new job (`ctx.continueAsNew`), committed together with the
 * successor's start: the engine names the successor.
 */
export interface JobContinued {
  readonly type: 'JobContinued';
  readonly input: unknown;
  readonly continuedAt: number;
  readonly nextJobId?: string;
}

/** An event as stored: its place in the job's log and when the store committed it. */
export interface RecordedEvent {
  readonly seq: number;
  readonly recordedAt: number;
  readonly event: JobEvent;
}

/** The id of the timer that a retry wait for `attempt` of `stepId` uses. */
export function retryTimerId(stepId: number, attempt: number): string {
  return `retry:${stepId}:${attempt}`;
}

/** The id of the timer a sleep at `position` uses. */
export function sleepTimerId(position: number): string {
  return `sleep:${position}`;
}

/** The id of the timer that ends a breaker's block of `attempt` of `stepId`. */
export function blockTimerId(stepId: number, attempt: number): string {
  return `block:${stepId}:${attempt}`;
}

/** The id of the timer of a job's execution timeout. */
export const DEADLINE_TIMER_ID = 'deadline';

/** The id of the timer of a signal wait's timeout at `position`. */
export function waitTimerId(position: number): string {
  return `wait:${position}`;
}

/** Events only the engine writes; a worker's append containing one is rejected. */
export const ENGINE_EVENTS: ReadonlySet<JobEvent['type']> = new Set([
  'JobStarted',
  'JobClaimed',
  'JobReleased',
  'TimerFired',
  'SignalReceived',
  'CancelRequested',
  'ChildFinished',
  'HistoryWarned',
]);

/**
 * Input from outside that the engine appends while a worker may hold the job. A worker's append
 * that extends an older seq is accepted when only these came in between: they change nothing the
 * worker decided, and it learns of them from the reply.
 */
export const INBOX_EVENTS: ReadonlySet<JobEvent['type']> = new Set(['SignalReceived', 'CancelRequested', 'ChildFinished', 'HistoryWarned']);
