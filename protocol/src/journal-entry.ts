import type { ValueKind } from './events.ts';
import type { Failure } from './failure.ts';
import type { ResolvedRetryPolicy } from './retry-policy.ts';

export interface AttemptState {
  readonly attempt: number;
  readonly status: 'running' | 'completed' | 'failed';
  readonly startedAt: number;
  readonly worker: string;
  readonly epoch: number;
  readonly endedAt?: number;
  readonly failure?: Failure;
  /** The details of its last heartbeat, recorded with its failure. */
  readonly heartbeat?: unknown;
  /** The breaker that admitted it, and whether as a probe. */
  readonly breaker?: string;
  readonly probe?: boolean;
}

/**
 * A step and its attempts. `retrying` means the latest attempt failed and another follows:
 * at `retryAt` once scheduled (`retryAt` is undefined until the retry decision is recorded).
 */
export interface StepState {
  readonly kind: 'step';
  readonly position: number;
  readonly name: string;
  readonly status: 'running' | 'retrying' | 'blocked' | 'completed' | 'failed';
  readonly attempts: readonly AttemptState[];
  readonly policy: ResolvedRetryPolicy;
  readonly timeoutMs?: number;
  readonly heartbeatTimeoutMs?: number;
  readonly output?: unknown;
  readonly failure?: Failure;
  /** Why the step gave up, once it has. */
  readonly reason?: string;
  readonly retryAt?: number;
  /** While `blocked`: when the breaker lets the next attempt be tried. */
  readonly blockedUntil?: number;
  /** The seq of the event that ended the step (completed, or failed for good). */
  readonly settledSeq?: number;
  /** The retry wait goes through a durable timer (the job was released meanwhile). */
  readonly retryDurable?: boolean;
}

export interface SleepState {
  readonly kind: 'sleep';
  readonly position: number;
  readonly fireAt: number;
  readonly fired: boolean;
  /** The seq of its TimerFired. */
  readonly settledSeq?: number;
}

export interface ValueState {
  readonly kind: 'value';
  readonly position: number;
  readonly valueKind: ValueKind;
  readonly value: number | string;
}

/** A wait for a signal; `ended` with the signal it took, or timed out. */
export interface WaitState {
  readonly kind: 'wait';
  readonly position: number;
  readonly name: string;
  readonly timeoutAt?: number;
  readonly ended: boolean;
  readonly signalId?: string;
  /** The seq of its WaitEnded. */
  readonly settledSeq?: number;
}

/** A child job the workflow started, and how it ended. */
export interface ChildState {
  readonly kind: 'child';
  readonly position: number;
  readonly childJobId: string;
  readonly workflow: string;
  readonly cancelWithParent: boolean;
  readonly finished: boolean;
  readonly status?: 'completed' | 'failed' | 'cancelled';
  readonly output?: unknown;
  readonly failure?: Failure;
  /** The seq of its ChildFinished. */
  readonly settledSeq?: number;
}

/** The call at this position was answered with a `CancelledError`. */
export interface CancelState {
  readonly kind: 'cancel';
  readonly position: number;
}

/** What the workflow did at one position, in call order: the journal replay matches against. */
export type JournalEntry = StepState | SleepState | ValueState | WaitState | ChildState | CancelState;
