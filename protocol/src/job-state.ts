import { assertNever } from './assert-never.ts';
import {
  DEADLINE_TIMER_ID,
  type ForkOrigin,
  INBOX_EVENTS,
  type JobEvent,
  type RecordedEvent,
  sleepTimerId,
  waitTimerId,
} from './events.ts';
import type { Failure } from './failure.ts';
import { blockStep, cancelStep, endStep, scheduleRetry, startStep } from './fold-steps.ts';
import { type Draft, expectNewPosition, type Illegal } from './job-draft.ts';
import type { ChildState, JournalEntry, WaitState } from './journal-entry.ts';

export type JobStatus = 'new' | 'running' | 'completed' | 'failed' | 'cancelled' | 'continued';

/** A signal in the job's inbox; `takenBy` is the position of the wait that took it. */
export interface SignalState {
  readonly signalId: string;
  readonly name: string;
  readonly payload: unknown;
  readonly receivedAt: number;
  readonly takenBy?: number;
}

/** A cancellation asked for; `deliveredAt` is the position where the workflow was told. */
export interface CancelRequest {
  readonly reason: string;
  readonly requestedAt: number;
  readonly deliveredAt?: number;
}

/** A durable wake-up the engine owes the job. */
export interface TimerState {
  readonly timerId: string;
  readonly fireAt: number;
}

/** The fold of a job's log. Nothing here is stored that the log does not say. */
export interface JobState {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly workflow: string;
  readonly version: string;
  readonly input: unknown;
  readonly output?: unknown;
  readonly failure?: Failure;
  /** The delivery generation; only appends carrying it are accepted. */
  readonly epoch: number;
  readonly lastSeq: number;
  /**
   * The seq of the last event that was not inbox input (signals, cancellation requests): an
   * append that extends any seq from here on changes nothing a worker decided.
   */
  readonly lastActSeq: number;
  readonly startedAt: number;
  readonly updatedAt: number;
  readonly finishedAt?: number;
  readonly journal: readonly JournalEntry[];
  readonly timers: Readonly<Record<string, TimerState>>;
  /** Signals received, in order of arrival. */
  readonly signals: readonly SignalState[];
  readonly cancel?: CancelRequest;
  /** Set on a child job: its parent and the position of the call that started it. */
  readonly parent?: { readonly jobId: string; readonly position: number };
  /** Set when the job continued as a new job: that job's id. */
  readonly continuedAs?: string;
  /** Set on a forked job: the job and step it was forked from. */
  readonly forkedFrom?: ForkOrigin;
}

/**
 * The shape of the fold's output. Stored snapshots of JobState carry it; bump it whenever the
 * fold changes what it produces, so snapshots folded by older code are ignored (the log is
 * still there to fold again).
 */
export const JOB_STATE_FORMAT = 1;

/** An event that cannot follow the log it is applied to; the message says why. */
export class IllegalTransitionError extends Error {
  override readonly name = 'IllegalTransitionError';
}

/** The state of a job before its first event. */
export function emptyJobState(jobId: string): JobState {
  return {
    jobId,
    status: 'new',
    workflow: '',
    version: '',
    input: undefined,
    epoch: 0,
    lastSeq: 0,
    lastActSeq: 0,
    startedAt: 0,
    updatedAt: 0,
    journal: [],
    timers: {},
    signals: [],
  };
}

/** Applies one recorded event to a state, returning a new state; `state` is left untouched. */
export function applyEvent(state: JobState, recorded: RecordedEvent): JobState {
  const draft: Draft = { ...state, journal: state.journal.slice(), timers: { ...state.timers }, signals: state.signals.slice() };
  reduce(draft, recorded);
  return draft;
}

/** Folds events onto `from` (an empty state by default) in one pass; same result as applyEvent. */
export function foldEvents(jobId: string, events: Iterable<RecordedEvent>, from?: JobState): JobState {
  const base = from ?? emptyJobState(jobId);
  const draft: Draft = { ...base, journal: base.journal.slice(), timers: { ...base.timers }, signals: base.signals.slice() };
  for (const recorded of events) reduce(draft, recorded);
  return draft;
}

/** True once the job has completed, failed or been cancelled. */
export function isFinished(state: Pick<JobState, 'status'>): boolean {
  return state.status === 'completed' || state.status === 'failed' || state.status === 'cancelled' || state.status === 'continued';
}

function reduce(s: Draft, { seq, recordedAt, event }: RecordedEvent): void {
  const illegal = (why: string): never => {
    throw new IllegalTransitionError(`job ${s.jobId} seq ${seq} ${event.type}: ${why}`);
  };
  if (seq !== s.lastSeq + 1) illegal(`expected seq ${s.lastSeq + 1}`);
  if (event.type === 'JobStarted') {
    const rerun = (s.status === 'failed' || s.status === 'cancelled') && event.epoch > s.epoch;
    if (s.status !== 'new' && !rerun) illegal('the job has already started');
  } else if (s.status === 'new') {
    illegal('the job has not started');
  } else if (s.status !== 'running') {
    illegal(`the job has already ${s.status}`);
  }
  s.lastSeq = seq;
  if (!INBOX_EVENTS.has(event.type)) s.lastActSeq = seq;
  s.updatedAt = recordedAt;
  applyFact(s, event, illegal);
}

function applyFact(s: Draft, event: JobEvent, illegal: Illegal): void {
  switch (event.type) {
    case 'JobStarted':
      // A new run starts from a clean slate; the log keeps the runs before it.
      s.journal = [];
      s.timers = {};
      s.signals = [];
      delete s.cancel;
      delete s.output;
      delete s.failure;
      delete s.finishedAt;
      delete s.continuedAs;
      delete s.forkedFrom;
      s.status = 'running';
      s.workflow = event.workflow;
      s.version = event.version;
      s.input = event.input;
      s.epoch = event.epoch;
      s.startedAt = event.startedAt;
      if (event.parent) s.parent = event.parent;
      if (event.forkedFrom) s.forkedFrom = event.forkedFrom;
      if (event.deadline !== undefined) s.timers[DEADLINE_TIMER_ID] = { timerId: DEADLINE_TIMER_ID, fireAt: event.deadline };
      return;
    case 'JobClaimed':
    case 'JobReleased':
    case 'TimerFired':
      if (event.epoch <= s.epoch) illegal(`epoch ${event.epoch} does not move past ${s.epoch}`);
      s.epoch = event.epoch;
      if (event.type === 'TimerFired') fireTimer(s, event.timerId, illegal);
      return;
    case 'StepStarted':
      startStep(s, event, illegal);
      return;
    case 'StepCompleted':
    case 'StepFailed':
      endStep(s, event, illegal);
      return;
    case 'StepBlocked':
      blockStep(s, event, illegal);
      return;
    case 'StepRetryScheduled':
      scheduleRetry(s, event, illegal);
      return;
    case 'TimerStarted': {
      expectNewPosition(s, event.position, illegal);
      s.journal.push({ kind: 'sleep', position: event.position, fireAt: event.fireAt, fired: false });
      const timerId = sleepTimerId(event.position);
      s.timers[timerId] = { timerId, fireAt: event.fireAt };
      return;
    }
    case 'ValueRecorded':
      expectNewPosition(s, event.position, illegal);
      s.journal.push({ kind: 'value', position: event.position, valueKind: event.kind, value: event.value });
      return;
    case 'SignalReceived':
      s.signals.push({ signalId: event.signalId, name: event.name, payload: event.payload, receivedAt: event.receivedAt });
      return;
    case 'WaitStarted': {
      expectNewPosition(s, event.position, illegal);
      s.journal.push({
        kind: 'wait',
        position: event.position,
        name: event.name,
        ended: false,
        ...(event.timeoutAt === undefined ? {} : { timeoutAt: event.timeoutAt }),
      });
      if (event.timeoutAt !== undefined) {
        const timerId = waitTimerId(event.position);
        s.timers[timerId] = { timerId, fireAt: event.timeoutAt };
      }
      return;
    }
    case 'WaitEnded': {
      const entry = s.journal[event.position];
      if (entry?.kind !== 'wait' || entry.ended) illegal(`there is no open wait at position ${event.position}`);
      const wait = entry as WaitState;
      const timerId = waitTimerId(event.position);
      if (event.signalId === undefined) {
        if (s.timers[timerId]) illegal('its timeout has not fired');
        s.journal[event.position] = { ...wait, ended: true, settledSeq: s.lastSeq };
        return;
      }
      const index = s.signals.findIndex((signal) => signal.signalId === event.signalId);
      const signal = s.signals[index];
      if (!signal || signal.name !== wait.name || signal.takenBy !== undefined) {
        illegal(`signal ${event.signalId} is not an untaken "${wait.name}" signal`);
      }
      s.signals[index] = { ...(signal as SignalState), takenBy: event.position };
      s.journal[event.position] = { ...wait, ended: true, signalId: event.signalId, settledSeq: s.lastSeq };
      delete s.timers[timerId];
      return;
    }
    case 'CancelRequested':
      // The first request counts; later ones add nothing.
      s.cancel ??= { reason: event.reason, requestedAt: event.requestedAt };
      return;
    case 'CancelDelivered': {
      if (!s.cancel || s.cancel.deliveredAt !== undefined) illegal('no undelivered cancellation');
      const open = s.journal[event.position];
      if (open === undefined) {
        // Told at a new call, which took this position.
        expectNewPosition(s, event.position, illegal);
        s.journal.push({ kind: 'cancel', position: event.position });
      } else if (open.kind === 'step' && (open.status === 'retrying' || open.status === 'blocked')) {
        cancelStep(s, open, s.cancel.reason);
      } else if (
        !((open.kind === 'wait' && !open.ended) || (open.kind === 'sleep' && !open.fired) || (open.kind === 'child' && !open.finished))
      ) {
        illegal(`position ${event.position} is not an open wait or a step waiting for its next attempt`);
      }
      s.cancel = { ...(s.cancel as CancelRequest), deliveredAt: event.position };
      return;
    }
    case 'ChildStarted':
      expectNewPosition(s, event.position, illegal);
      s.journal.push({
        kind: 'child',
        position: event.position,
        childJobId: event.childJobId,
        workflow: event.workflow,
        cancelWithParent: event.cancelWithParent,
        finished: false,
      });
      return;
    case 'ChildFinished': {
      const child = s.journal[event.position];
      if (child?.kind !== 'child' || child.finished || child.childJobId !== event.childJobId) {
        illegal(`there is no running child ${event.childJobId} at position ${event.position}`);
      }
      s.journal[event.position] = {
        ...(child as ChildState),
        finished: true,
        status: event.status,
        ...(event.output === undefined ? {} : { output: event.output }),
        ...(event.failure === undefined ? {} : { failure: event.failure }),
        settledSeq: s.lastSeq,
      };
      return;
    }
    case 'HistoryWarned':
      return;
    case 'JobContinued':
      if (event.nextJobId === undefined) illegal('the successor is not named');
      s.status = 'continued';
      s.continuedAs = event.nextJobId as string;
      s.finishedAt = event.continuedAt;
      s.timers = {};
      return;
    case 'JobCancelled':
      s.status = 'cancelled';
      s.failure = { name: 'CancelledError', message: event.reason };
      s.finishedAt = event.cancelledAt;
      s.timers = {};
      return;
    case 'JobCompleted':
      s.status = 'completed';
      s.output = event.output;
      s.finishedAt = event.completedAt;
      s.timers = {};
      return;
    case 'JobFailed':
      s.status = 'failed';
      s.failure = event.failure;
      s.finishedAt = event.failedAt;
      s.timers = {};
      return;
    default:
      assertNever(event, 'event');
  }
}

function fireTimer(s: Draft, timerId: string, illegal: Illegal): void {
  if (!s.timers[timerId]) illegal(`timer ${timerId} is not pending`);
  delete s.timers[timerId];
  if (timerId.startsWith('sleep:')) {
    const position = Number(timerId.slice('sleep:'.length));
    const sleep = s.journal[position];
    if (sleep?.kind === 'sleep') s.journal[position] = { ...sleep, fired: true, settledSeq: s.lastSeq };
  }
}
