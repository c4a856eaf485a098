import {
  blockTimerId,
  retryTimerId,
  type StepBlocked,
  type StepCompleted,
  type StepFailed,
  type StepRetryScheduled,
  type StepStarted,
} from './events.ts';
import type { Failure } from './failure.ts';
import { type Draft, expectNewPosition, type Illegal } from './job-draft.ts';
import type { AttemptState, StepState } from './journal-entry.ts';
import type { ResolvedRetryPolicy } from './retry-policy.ts';

/** Folds a StepStarted: a first attempt, a retry, or the attempt a breaker held back. */
export function startStep(s: Draft, event: StepStarted, illegal: Illegal): void {
  const attempt: AttemptState = {
    attempt: event.attempt,
    status: 'running',
    startedAt: event.startedAt,
    worker: event.worker,
    epoch: event.epoch,
    ...(event.breaker === undefined ? {} : { breaker: event.breaker, probe: event.probe === true }),
  };
  const blocked = s.journal[event.stepId];
  if (blocked?.kind === 'step' && blocked.status === 'blocked') {
    // A step the breaker held back: this is the attempt it did not spend.
    if (event.attempt !== blocked.attempts.length + 1) illegal(`attempt ${blocked.attempts.length + 1} is next`);
    if (s.timers[blockTimerId(event.stepId, event.attempt)]) illegal('the breaker still blocks it');
    const { blockedUntil: _until, ...rest } = blocked;
    s.journal[event.stepId] = { ...rest, status: 'running', attempts: [...blocked.attempts, attempt] };
    return;
  }
  if (event.attempt === 1) {
    expectNewPosition(s, event.stepId, illegal);
    if (!event.policy) illegal('attempt 1 must record the retry policy');
    s.journal.push({
      kind: 'step',
      position: event.stepId,
      name: event.name,
      status: 'running',
      attempts: [attempt],
      policy: event.policy as ResolvedRetryPolicy,
      ...(event.timeoutMs === undefined ? {} : { timeoutMs: event.timeoutMs }),
      ...(event.heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs: event.heartbeatTimeoutMs }),
    });
    return;
  }
  const step = stepAt(s, event.stepId, illegal);
  if (step.name !== event.name) illegal(`step ${event.stepId} is "${step.name}", not "${event.name}"`);
  if (step.status !== 'retrying' || step.retryAt === undefined) illegal(`step ${event.stepId} has no retry scheduled`);
  if (event.attempt !== step.attempts.length + 1) illegal(`attempt ${step.attempts.length + 1} is next`);
  if (s.timers[retryTimerId(step.position, event.attempt)]) illegal('its retry timer has not fired');
  const { retryAt: _at, retryDurable: _durable, ...rest } = step;
  s.journal[step.position] = { ...rest, status: 'running', attempts: [...step.attempts, attempt] };
}

/** Folds a StepCompleted or StepFailed: ends the running attempt, and the step unless it retries. */
export function endStep(s: Draft, event: StepCompleted | StepFailed, illegal: Illegal): void {
  const step = stepAt(s, event.stepId, illegal);
  const last = step.attempts.at(-1);
  if (step.status !== 'running' || last?.attempt !== event.attempt) {
    illegal(`attempt ${event.attempt} of step ${event.stepId} is not running`);
  }
  const running = last as AttemptState;
  if (event.type === 'StepCompleted') {
    const ended: AttemptState = { ...running, status: 'completed', endedAt: event.completedAt };
    s.journal[step.position] = {
      ...step,
      status: 'completed',
      output: event.output,
      settledSeq: s.lastSeq,
      attempts: [...step.attempts.slice(0, -1), ended],
    };
  } else {
    const ended: AttemptState = {
      ...running,
      status: 'failed',
      endedAt: event.failedAt,
      failure: event.failure,
      ...(event.heartbeat === undefined ? {} : { heartbeat: event.heartbeat }),
    };
    s.journal[step.position] = {
      ...step,
      status: event.final ? 'failed' : 'retrying',
      ...(event.final
        ? { failure: event.failure, settledSeq: s.lastSeq, ...(event.reason === undefined ? {} : { reason: event.reason }) }
        : {}),
      attempts: [...step.attempts.slice(0, -1), ended],
    };
  }
}

/** Folds a StepBlocked: the breaker held the attempt back until `until`, or failed the step. */
export function blockStep(s: Draft, event: StepBlocked, illegal: Illegal): void {
  const existing = s.journal[event.stepId];
  let step: StepState;
  if (existing === undefined) {
    expectNewPosition(s, event.stepId, illegal);
    if (event.attempt !== 1 || !event.policy) illegal('a first block must be of attempt 1 and record the retry policy');
    step = {
      kind: 'step',
      position: event.stepId,
      name: event.name,
      status: 'blocked',
      attempts: [],
      policy: event.policy as ResolvedRetryPolicy,
      ...(event.timeoutMs === undefined ? {} : { timeoutMs: event.timeoutMs }),
      ...(event.heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs: event.heartbeatTimeoutMs }),
    };
  } else {
    if (existing.kind !== 'step' || (existing.status !== 'retrying' && existing.status !== 'blocked')) {
      illegal(`step ${event.stepId} is not waiting for its next attempt`);
    }
    const waiting = existing as StepState;
    if (event.attempt !== waiting.attempts.length + 1) illegal(`attempt ${waiting.attempts.length + 1} is next`);
    if (s.timers[retryTimerId(event.stepId, event.attempt)] || s.timers[blockTimerId(event.stepId, event.attempt)]) {
      illegal('its attempt is not due');
    }
    const { retryAt: _at, retryDurable: _durable, blockedUntil: _until, ...rest } = waiting;
    step = rest;
  }
  const failure: Failure = {
    name: 'CircuitOpenError',
    message: `breaker "${event.breaker}" is open until ${new Date(event.until).toISOString()}`,
  };
  if (event.fail) {
    s.journal[event.stepId] = {
      ...step,
      status: 'failed',
      failure,
      reason: `breaker "${event.breaker}" is open`,
      settledSeq: s.lastSeq,
    };
  } else {
    s.journal[event.stepId] = { ...step, status: 'blocked', blockedUntil: event.until };
    const timerId = blockTimerId(event.stepId, event.attempt);
    s.timers[timerId] = { timerId, fireAt: event.until };
  }
}

/**
 * A cancellation delivered at a step waiting for its next attempt (a retry or a breaker's block):
 * the step ends there, failed with the `CancelledError`, and its next attempt never runs.
 */
export function cancelStep(s: Draft, step: StepState, reason: string): void {
  const next = step.attempts.length + 1;
  delete s.timers[retryTimerId(step.position, next)];
  delete s.timers[blockTimerId(step.position, next)];
  const { retryAt: _at, retryDurable: _durable, blockedUntil: _until, ...rest } = step;
  s.journal[step.position] = {
    ...rest,
    status: 'failed',
    failure: { name: 'CancelledError', message: reason },
    reason: `the job was cancelled before attempt ${next}`,
    settledSeq: s.lastSeq,
  };
}

/** Folds a StepRetryScheduled: when the next attempt runs, behind a durable timer if the job lets go. */
export function scheduleRetry(s: Draft, event: StepRetryScheduled, illegal: Illegal): void {
  const step = stepAt(s, event.stepId, illegal);
  if (step.status !== 'retrying' || step.retryAt !== undefined) illegal(`step ${event.stepId} is not awaiting a retry`);
  if (event.attempt !== step.attempts.length + 1) illegal(`attempt ${step.attempts.length + 1} is next`);
  s.journal[step.position] = { ...step, retryAt: event.at, retryDurable: event.durable };
  if (event.durable) {
    const timerId = retryTimerId(event.stepId, event.attempt);
    s.timers[timerId] = { timerId, fireAt: event.at };
  }
}

function stepAt(s: Draft, stepId: number, illegal: Illegal): StepState {
  const entry = s.journal[stepId];
  if (entry?.kind !== 'step') return illegal(`there is no step ${stepId}`);
  return entry;
}
