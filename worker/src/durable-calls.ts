import {
  assertStorable,
  blockTimerId,
  type ChildFinished,
  type Duration,
  type Failure,
  fromFailure,
  type JournalEntry,
  jobIdProblem,
  MAX_TIME_MS,
  MAX_TIMEOUT_MS,
  resolveRetryPolicy,
  retryTimerId,
  type StepState,
  type TimerState,
  toMs,
  waitTimerId,
} from '@ratchet/protocol';
import {
  type Breaker,
  ChildFailedError,
  type ChildOptions,
  CircuitOpenError,
  type DurableCall,
  type EngineClient,
  type SignalResult,
  StepFailedError,
  type StepInfo,
  type StepOptions,
  type Workflow,
} from '@ratchet/sdk';
import type { AppendQueue } from './append-queue.ts';
import type { Inbox, WaitFor } from './inbox.ts';
import { parked } from './park.ts';
import type { ReplayGate } from './replay-gate.ts';
import type { StepGuard, StepRunner } from './step-runner.ts';

/** What the durable calls need of the run that makes them. */
export interface DurableCallsOptions {
  readonly jobId: string;
  readonly clock: () => number;
  /** The durable timers pending when the run began. */
  readonly timers: Readonly<Record<string, TimerState>>;
  /** Starts child jobs. */
  readonly engine: Pick<EngineClient, 'send'>;
  /** Breakers steps may name. */
  readonly breakers: ReadonlyMap<string, Breaker> | undefined;
  readonly appends: AppendQueue;
  readonly inbox: Inbox;
  readonly steps: StepRunner;
  readonly gate: ReplayGate;
  /** True once the run must do nothing more. */
  readonly stopped: () => boolean;
  /** Matches the call at the next position against the journal; undefined means a new call. */
  readonly match: (actual: DurableCall, accepts: (entry: JournalEntry) => boolean) => { position: number; entry: JournalEntry | undefined };
  /** Counts a step as active while `work` runs, so the job is not parked under it. */
  readonly active: <T>(work: () => Promise<T>) => Promise<T>;
  /** A wait the engine ends (timer): the run lets go of the job once nothing else is active. */
  readonly durableWait: <T>() => Promise<T>;
  /** Blocks on a durable wait, parking the job if nothing else runs. */
  readonly wait: (position: number, what: WaitFor) => Promise<unknown>;
}

/**
 * The workflow's durable calls that take a position in the journal and may wait — steps,
 * sleeps, signal waits and child jobs: each replays its recorded result, or runs for real.
 */
export class DurableCalls {
  readonly #o: DurableCallsOptions;

  constructor(options: DurableCallsOptions) {
    this.#o = options;
  }

  /** `ctx.step`: replays the recorded outcome, or runs the attempts still owed (after any retry wait or block). */
  async step<T>(name: string, fn: (info: StepInfo) => T | Promise<T>, options: StepOptions = {}): Promise<T> {
    if (this.#o.stopped()) return parked();
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('ctx.step needs a non-empty name');
    if (typeof fn !== 'function') throw new TypeError(`ctx.step("${name}") needs a function`);
    // Options are checked before the call takes its position, so code that catches the error
    // and goes on still lines up with the log.
    const policy = resolveRetryPolicy(options.retry);
    const timeoutMs = stepTimeout(options.timeout, `timeout of step "${name}"`);
    const heartbeatTimeoutMs = stepTimeout(options.heartbeatTimeout, `heartbeatTimeout of step "${name}"`);
    const guard = this.#guard(name, options);
    const { position, entry } = this.#o.match({ kind: 'step', name }, (e) => (e.kind === 'step' && e.name === name) || e.kind === 'cancel');
    this.#o.inbox.cancelAt(position, entry);
    if (entry === undefined) {
      return this.#o.active(async () => {
        const settings = { policy, timeoutMs, heartbeatTimeoutMs };
        const startedAt = await this.#o.steps.begin(position, name, 1, guard, settings);
        if (this.#o.stopped()) return parked();
        return this.#o.steps.attempts(position, name, { ...settings, firstStartedAt: startedAt, ...(guard ? { guard } : {}) }, 1, fn);
      });
    }
    const step = entry as StepState;
    switch (step.status) {
      case 'completed':
        return this.#o.gate.replayed(step.settledSeq, () => step.output as T);
      case 'failed':
        return this.#o.gate.replayed(step.settledSeq, () => {
          if (step.failure?.name === 'CircuitOpenError') throw new CircuitOpenError(step.failure.message);
          throw new StepFailedError(name, step.attempts.length, step.reason ?? 'gave up', fromFailure(step.failure ?? unknownFailure));
        });
      case 'blocked': {
        // Held back by its breaker without spending the attempt: wait out the block, then ask again.
        const next = step.attempts.length + 1;
        if (this.#o.timers[blockTimerId(position, next)]) return this.#o.durableWait();
        return this.#o.active(async () => {
          const first =
            next === 1 ? { policy: step.policy, timeoutMs: step.timeoutMs, heartbeatTimeoutMs: step.heartbeatTimeoutMs } : undefined;
          const startedAt = await this.#o.steps.begin(position, name, next, guard, first);
          if (this.#o.stopped()) return parked();
          const settings = {
            policy: step.policy,
            timeoutMs: step.timeoutMs,
            heartbeatTimeoutMs: step.heartbeatTimeoutMs,
            firstStartedAt: step.attempts[0]?.startedAt ?? startedAt,
            ...(guard ? { guard } : {}),
          };
          return this.#o.steps.attempts(position, name, settings, next, fn, lastHeartbeat(step));
        });
      }
      case 'running':
        // The worker claims a job whose log ends in an open attempt, which closes it; so this is a bug.
        throw new Error(`step "${name}" attempt ${step.attempts.length} is still open in the log of job ${this.#o.jobId}`);
      case 'retrying': {
        const next = step.attempts.length + 1;
        if (step.retryAt === undefined) throw new Error(`step "${name}" failed attempt ${step.attempts.length} has no retry scheduled`);
        if (this.#o.timers[retryTimerId(position, next)]) return this.#o.durableWait();
        const retryAt = step.retryAt;
        return this.#o.active(async () => {
          await this.#o.steps.waitUntil(retryAt);
          if (this.#o.stopped()) return parked();
          await this.#o.steps.begin(position, name, next, guard);
          if (this.#o.stopped()) return parked();
          const settings = {
            policy: step.policy,
            timeoutMs: step.timeoutMs,
            heartbeatTimeoutMs: step.heartbeatTimeoutMs,
            firstStartedAt: step.attempts[0]?.startedAt ?? this.#o.clock(),
            ...(guard ? { guard } : {}),
          };
          return this.#o.steps.attempts(position, name, settings, next, fn, lastHeartbeat(step));
        });
      }
    }
  }

  /** `ctx.sleep` and `ctx.waitUntil`: a durable timer firing at `fireAt`. */
  async sleep(fireAt: number, label: string): Promise<void> {
    if (this.#o.stopped()) return parked();
    if (!Number.isFinite(fireAt) || fireAt > MAX_TIME_MS) throw new RangeError(`${label} ends after the latest time the log can hold`);
    const { position, entry } = this.#o.match({ kind: 'sleep' }, (e) => e.kind === 'sleep' || e.kind === 'cancel');
    if (entry?.kind === 'sleep' && entry.fired) return this.#o.gate.replayed(entry.settledSeq, () => undefined);
    this.#o.inbox.cancelAt(position, entry);
    if (entry === undefined) this.#o.appends.push({ type: 'TimerStarted', position, fireAt });
    await this.#o.wait(position, { kind: 'sleep' });
  }

  /** `ctx.waitForSignal`: takes the oldest untaken signal named `name`, or waits durably for one. */
  async waitForSignal(name: string, timeout: Duration | undefined): Promise<SignalResult<unknown>> {
    if (this.#o.stopped()) return parked();
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('ctx.waitForSignal needs a non-empty name');
    const timeoutAt = timeout === undefined ? undefined : this.#o.clock() + toMs(timeout, `timeout of ctx.waitForSignal("${name}")`);
    if (timeoutAt !== undefined && timeoutAt > MAX_TIME_MS)
      throw new RangeError(`the timeout of ctx.waitForSignal("${name}") is too far away`);
    const { position, entry } = this.#o.match({ kind: 'wait', name }, (e) => (e.kind === 'wait' && e.name === name) || e.kind === 'cancel');
    if (entry?.kind === 'wait' && entry.ended) {
      const { signalId } = entry;
      return this.#o.gate.replayed(entry.settledSeq, () =>
        signalId === undefined ? { timedOut: true as const } : { timedOut: false as const, payload: this.#o.inbox.payloadOf(signalId) },
      );
    }
    this.#o.inbox.cancelAt(position, entry);
    if (entry === undefined)
      this.#o.appends.push({ type: 'WaitStarted', position, name, ...(timeoutAt === undefined ? {} : { timeoutAt }) });
    const taken = this.#o.inbox.takeSignal(position, name);
    if (taken) return taken;
    const started = entry?.kind === 'wait' ? entry : undefined;
    if (started?.timeoutAt !== undefined && !this.#o.timers[waitTimerId(position)]) {
      // Its timeout fired while the job was parked.
      this.#o.appends.push({ type: 'WaitEnded', position, endedAt: this.#o.clock() });
      return { timedOut: true };
    }
    return this.#o.wait(position, { kind: 'wait', name }) as Promise<SignalResult<unknown>>;
  }

  /** `ctx.child`: starts a child job (or attaches to it on a replay) and waits for its outcome. */
  async child(workflow: Workflow<never, unknown> | string, input: unknown, options: ChildOptions = {}): Promise<unknown> {
    if (this.#o.stopped()) return parked();
    const name = typeof workflow === 'string' ? workflow : workflow.name;
    assertStorable(input, `input of child workflow "${name}"`);
    const { position, entry } = this.#o.match(
      { kind: 'child', name },
      (e) => (e.kind === 'child' && e.workflow === name) || e.kind === 'cancel',
    );
    if (entry?.kind === 'child' && entry.finished) {
      const { childJobId, status, output, failure } = entry;
      return this.#o.gate.replayed(entry.settledSeq, () => {
        if (status === 'completed') return output;
        throw new ChildFailedError(childJobId, status ?? 'failed', failure ?? unknownFailure);
      });
    }
    this.#o.inbox.cancelAt(position, entry);
    const childJobId = entry?.kind === 'child' ? entry.childJobId : (options.jobId ?? `${this.#o.jobId}.c${position}`);
    if (entry === undefined) {
      const problem = jobIdProblem(childJobId);
      if (problem) throw new RangeError(`child job id: ${problem}`);
      this.#o.appends.push({
        type: 'ChildStarted',
        position,
        childJobId,
        workflow: name,
        input,
        cancelWithParent: options.cancelWithParent ?? true,
      });
    }
    // Listen first, so a child that ends at once is not missed.
    const ended = this.#o.inbox.wait(position, { kind: 'child', childJobId }) as Promise<ChildFinished>;
    // Durable first, so no child exists that its parent's log does not name; then (again, on a
    // replay) start it: a start of an existing job attaches to it, and one that has finished
    // already puts its outcome in this job's inbox. The run does not park meanwhile.
    await this.#o.active(async () => {
      await this.#o.appends.sync();
      if (this.#o.stopped()) return;
      await this.#o.engine.send({
        type: 'StartJob',
        workflow: name,
        input,
        jobId: childJobId,
        parent: { jobId: this.#o.jobId, position },
        ...(typeof workflow === 'string' ? {} : { version: workflow.version }),
      });
    });
    if (this.#o.stopped()) return parked();
    const finished = await ended;
    if (finished.status === 'completed') return finished.output;
    throw new ChildFailedError(childJobId, finished.status, finished.failure ?? unknownFailure);
  }

  /** The breaker guarding a step, from its options (a breaker, or a name this worker has). */
  #guard(step: string, options: StepOptions): StepGuard | undefined {
    if (options.breaker === undefined) return undefined;
    const breaker = typeof options.breaker === 'string' ? this.#o.breakers?.get(options.breaker) : options.breaker;
    if (!breaker) {
      const known = [...(this.#o.breakers?.keys() ?? [])].join(', ') || 'none';
      throw new Error(`step "${step}" names breaker "${String(options.breaker)}", which this worker does not have (it has: ${known})`);
    }
    const onOpen = options.onOpen ?? 'park';
    if (onOpen !== 'park' && onOpen !== 'fail') throw new RangeError(`onOpen of step "${step}" must be "park" or "fail"`);
    return { breaker, onOpen };
  }
}

const unknownFailure: Failure = { name: 'Error', message: 'unknown failure' };

/**
 * A step's timeout option in ms, refusing what the log cannot record (`StepStarted` holds whole
 * milliseconds; 0 would time every attempt out at once) and what a Node timer cannot wait.
 */
function stepTimeout(duration: Duration | undefined, label: string): number | undefined {
  if (duration === undefined) return undefined;
  const ms = toMs(duration, label);
  if (!Number.isInteger(ms) || ms < 1) throw new RangeError(`${label} must be a whole number of milliseconds, at least 1, got ${ms}`);
  if (ms > MAX_TIMEOUT_MS) throw new RangeError(`${label} is ${ms} ms; the longest is ${MAX_TIMEOUT_MS} ms (about 24.8 days)`);
  return ms;
}

/** The details the step's latest failed attempt recorded from its last heartbeat, if any. */
function lastHeartbeat(step: { readonly attempts: readonly { readonly heartbeat?: unknown }[] }): unknown {
  return step.attempts.findLast((attempt) => attempt.heartbeat !== undefined)?.heartbeat;
}
