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
  | TimerStarted
  | TimerFired
  | ValueRecorded
  | JobCompleted
  | JobFailed;

/** The job exists. Its first delivery runs at epoch 1. */
export interface JobStarted {
  readonly type: 'JobStarted';
  readonly workflow: string;
  readonly version: string;
  readonly input: unknown;
  readonly epoch: 1;
  readonly startedAt: number;
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

export type ValueKind = 'now' | 'random' | 'uuid';

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

/** Events only the engine writes; a worker's append containing one is rejected. */
export const ENGINE_EVENTS: ReadonlySet<JobEvent['type']> = new Set(['JobStarted', 'JobClaimed', 'JobReleased', 'TimerFired']);
