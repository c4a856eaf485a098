import type { Duration, Failure, JobSummary } from '@ratchet/protocol';
import { toMs } from '@ratchet/protocol';

/** Thrown by step code: the attempt failed and must not be retried. */
export class NonRetryableError extends Error {
  override readonly name: string = 'NonRetryableError';
  readonly nonRetryable = true;
}

/**
 * Thrown by step code: the attempt failed and may be retried — not before `retryAfter` when
 * given (e.g. from an HTTP 429's Retry-After), which then replaces the policy's backoff.
 */
export class RetryableError extends Error {
  override readonly name: string = 'RetryableError';
  readonly retryAfterMs?: number;
  constructor(message: string, options: ErrorOptions & { retryAfter?: Duration } = {}) {
    super(message, options);
    if (options.retryAfter !== undefined) this.retryAfterMs = toMs(options.retryAfter, 'retryAfter');
  }
}

/** One side of a nondeterminism report: a durable call as the log recorded it or as the code made it. */
export interface DurableCall {
  readonly kind: string;
  readonly name?: string;
}

/**
 * The workflow code no longer makes the calls its log recorded (code changed under a running
 * job). Shows the position with the recorded and the actual call side by side.
 */
export class NondeterminismError extends Error {
  override readonly name = 'NondeterminismError';
  readonly position: number;
  readonly expected: DurableCall;
  readonly actual: DurableCall;
  /** `options.cause`: what the workflow threw, when it ended where the log goes on. */
  constructor(position: number, expected: DurableCall, actual: DurableCall, options?: ErrorOptions) {
    super(
      `nondeterminism at position ${position}: the log recorded ${describe(expected)} but the code ${describeActual(actual)}. ` +
        'Workflow code must make the same durable calls in the same order for a running job; branch with a version instead.',
      options,
    );
    this.position = position;
    this.expected = expected;
    this.actual = actual;
  }
}

function describe(call: DurableCall): string {
  if (call.kind === 'return') return 'the workflow returning';
  if (call.kind === 'throw') return `the workflow throwing ${call.name ?? 'an error'}`;
  return call.name === undefined ? `${call.kind}()` : `${call.kind}("${call.name}")`;
}

/** What the code did: a call it made, or how its workflow function ended. */
function describeActual(call: DurableCall): string {
  if (call.kind === 'return') return 'returned';
  if (call.kind === 'throw') return `threw ${call.name ?? 'an error'}`;
  return `called ${describe(call)}`;
}

/**
 * The job was asked to cancel (`client.cancel`). The workflow gets it at its next durable call; it
 * may catch it and run compensating steps. A job its workflow lets end with it ends cancelled.
 */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
}

/** A child job failed or was cancelled; `failure` is its error as recorded. */
export class ChildFailedError extends Error {
  override readonly name = 'ChildFailedError';
  readonly childJobId: string;
  readonly failure: Failure;
  constructor(childJobId: string, status: string, failure: Failure) {
    super(`child job ${childJobId} ${status === 'cancelled' ? 'was cancelled' : 'failed'}: ${failure.name}: ${failure.message}`);
    this.childJobId = childJobId;
    this.failure = failure;
  }
}

/** A step guarded by an open breaker, with `onOpen: 'fail'`: no attempt was made. */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
}

/** A step gave up (non-retryable error or attempts exhausted). `cause` is the last attempt's error. */
export class StepFailedError extends Error {
  override readonly name = 'StepFailedError';
  readonly step: string;
  readonly attempts: number;
  constructor(step: string, attempts: number, reason: string, cause: Error) {
    super(`step "${step}" failed after ${attempts} attempt${attempts === 1 ? '' : 's'} (${reason}): ${cause.message}`, { cause });
    this.step = step;
    this.attempts = attempts;
  }
}

/** An attempt ran past its `timeout`; it counts as a failed, retryable attempt. */
export class StepTimeoutError extends Error {
  override readonly name = 'StepTimeoutError';
}

/** An attempt went longer than its `heartbeatTimeout` without a heartbeat; it counts as failed. */
export class StepHeartbeatError extends Error {
  override readonly name = 'StepHeartbeatError';
}

/** `handle.result()` of a job that failed or was cancelled; `failure` is the job's error as recorded. */
export class JobFailedError extends Error {
  override readonly name = 'JobFailedError';
  readonly jobId: string;
  readonly failure: Failure;
  constructor(job: JobSummary) {
    const failure = job.failure ?? { name: 'Error', message: 'unknown failure' };
    super(
      `job ${job.jobId} (${job.workflow}) ${job.status === 'cancelled' ? 'was cancelled' : 'failed'}: ${failure.name}: ${failure.message}`,
    );
    this.jobId = job.jobId;
    this.failure = failure;
  }
}

/** The engine refused a command; `name` is the engine's error name (e.g. `StaleEpochError`). */
export class EngineError extends Error {
  override readonly name: string;
  readonly failure: Failure;
  constructor(failure: Failure) {
    super(failure.message);
    this.name = failure.name;
    this.failure = failure;
  }
}
