import { randomUUID } from 'node:crypto';
import {
  assertStorable,
  blockTimerId,
  type ChildFinished,
  type Duration,
  type Failure,
  foldEvents,
  fromFailure,
  INBOX_EVENTS,
  type JobEvent,
  type JobState,
  type JournalEntry,
  jobIdProblem,
  MAX_TIME_MS,
  MAX_TIMEOUT_MS,
  type RecordedEvent,
  resolveRetryPolicy,
  retryTimerId,
  type StepState,
  toFailure,
  toMs,
  type ValueKind,
  waitTimerId,
} from '@ratchet/protocol';
import {
  type Breaker,
  ChildFailedError,
  type ChildOptions,
  CircuitOpenError,
  type DurableCall,
  type EngineClient,
  NondeterminismError,
  type SignalResult,
  StepFailedError,
  type StepInfo,
  type StepOptions,
  type Workflow,
  type WorkflowContext,
} from '@ratchet/sdk';
import type { Logger } from 'pino';
import { AppendQueue } from './append-queue.ts';
import { Inbox, type WaitFor } from './inbox.ts';
import { PARK, parked } from './park.ts';
import { type StepGuard, StepRunner } from './step-runner.ts';

/** How one delivery of a job ended. */
export type RunOutcome =
  | { readonly kind: 'completed' | 'failed' | 'suspended' }
  /** The run stopped without finishing its work: fenced off, engine unreachable, or shutdown. */
  | { readonly kind: 'aborted'; readonly error: unknown };

export interface JobRunOptions {
  /** The job's state folded from its whole log, at the epoch this run holds. */
  readonly state: JobState;
  readonly workflow: Workflow;
  readonly engine: EngineClient;
  readonly worker: string;
  readonly clock: () => number;
  readonly logger: Logger;
  /** Retry waits up to this long are waited out in the worker; longer ones go through durable timers. */
  readonly maxInProcessWaitMs: number;
  /** Aborted when the worker shuts down. */
  readonly signal: AbortSignal;
  /** Breakers steps may name. */
  readonly breakers?: ReadonlyMap<string, Breaker>;
  /** Resolves at the next turn of the event loop (shared by the worker's runs). @default setImmediate */
  readonly nextTurn?: () => Promise<void>;
}

/**
 * One delivery of a job: replays the workflow function against the job's journal and runs the
 * first unrecorded calls for real. Events queue up and are appended together at the next
 * macrotask, so a step's completion and the next step's start travel in one append; a step's
 * start is always durable before its function runs.
 */
export class JobRun {
  readonly #o: JobRunOptions;
  readonly #jobId: string;
  #position = 0;
  readonly #appends: AppendQueue;
  readonly #inbox: Inbox;
  readonly #steps: StepRunner;
  #activeSteps = 0;
  /** Waits only the engine ends (durable retry timers): unlike the inbox's, nothing in this run ends them. */
  #timerWaits = 0;
  /** Recorded results of the current burst of calls, released in log order by #openGate. */
  readonly #gate: { seq: number; settle: () => void }[] = [];
  #done = false;
  #nondeterminism: NondeterminismError | undefined;
  readonly #stepAbort = new AbortController();
  #settle!: (outcome: RunOutcome) => void;
  readonly #outcome = new Promise<RunOutcome>((resolve) => {
    this.#settle = resolve;
  });

  constructor(options: JobRunOptions) {
    this.#o = options;
    this.#jobId = options.state.jobId;
    const { state, clock } = options;
    this.#appends = new AppendQueue({
      engine: options.engine,
      jobId: this.#jobId,
      epoch: state.epoch,
      lastSeq: state.lastSeq,
      clock,
      nextTurn: options.nextTurn ?? (() => new Promise((resolve) => setImmediate(resolve))),
      receive: (inbox) => this.#receive(inbox),
      abort: (error) => this.#abort(error),
    });
    this.#inbox = new Inbox({ state, clock, push: (...events) => this.#appends.push(...events) });
    this.#steps = new StepRunner({
      jobId: this.#jobId,
      worker: options.worker,
      epoch: state.epoch,
      clock,
      maxInProcessWaitMs: options.maxInProcessWaitMs,
      appends: this.#appends,
      signal: this.#stepAbort.signal,
      stopped: () => this.#stopped,
      engine: options.engine,
    });
  }

  /**
   * The job's state after this run: the state it started from plus everything it appended (with
   * commit times as this worker saw them). Lets the worker resume a parked job from a short tail.
   */
  endState(): JobState {
    return foldEvents(this.#jobId, this.#appends.appended, this.#o.state);
  }

  /** Runs the workflow until it finishes, parks on a durable wait, or is aborted. */
  run(): Promise<RunOutcome> {
    const onShutdown = () => this.#abort(new Error('worker is shutting down'));
    if (this.#o.signal.aborted) onShutdown();
    this.#o.signal.addEventListener('abort', onShutdown, { once: true });
    // Removed when the run ends, not when the workflow function returns: a parked workflow never
    // returns, and its listener would keep the whole run alive for as long as the worker lives.
    void this.#outcome.then(() => this.#o.signal.removeEventListener('abort', onShutdown));
    void this.#execute();
    return this.#outcome;
  }

  async #execute(): Promise<void> {
    let ending: JobEvent;
    try {
      const output = await this.#o.workflow.run(this.#context(), this.#o.state.input);
      if (this.#nondeterminism) throw this.#nondeterminism;
      assertStorable(output, `output of workflow "${this.#o.workflow.name}"`);
      ending = { type: 'JobCompleted', output, completedAt: this.#o.clock() };
    } catch (error) {
      if (this.#done || this.#nondeterminism) return;
      const cancelled = error instanceof Error && error.name === 'CancelledError' && this.#inbox.cancel?.deliveredAt !== undefined;
      ending = cancelled
        ? { type: 'JobCancelled', reason: this.#inbox.cancel?.reason ?? 'cancelled', terminated: false, cancelledAt: this.#o.clock() }
        : { type: 'JobFailed', failure: toFailure(error), failedAt: this.#o.clock() };
    }
    // A nondeterminism has already recorded the job's failure.
    if (this.#done || this.#nondeterminism) return;
    this.#appends.push(ending);
    try {
      await this.#appends.sync();
      this.#finish({ kind: ending.type === 'JobCompleted' ? 'completed' : 'failed' });
    } catch {
      // The append queue has aborted the run with the cause.
    }
  }

  #context(): WorkflowContext {
    const { state, logger } = this.#o;
    const log = (level: 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
      if (this.#position >= state.journal.length) logger[level]({ jobId: this.#jobId, ...fields }, message);
    };
    return {
      jobId: this.#jobId,
      workflow: state.workflow,
      step: (name, fn, options) => this.#step(name, fn, options),
      sleep: (duration) => this.#sleep(this.#o.clock() + toMs(duration, 'ctx.sleep duration'), `ctx.sleep(${String(duration)})`),
      waitUntil: (time) => this.#sleep(time instanceof Date ? time.getTime() : time, 'ctx.waitUntil'),
      waitForSignal: (name, options) => this.#waitForSignal(name, options?.timeout) as never,
      patched: (id) => this.#patched(id),
      continueAsNew: (input) => this.#continueAsNew(input),
      child: (workflow, input, options) => this.#child(workflow as Workflow<never, unknown> | string, input, options) as never,
      now: () => this.#value('now', () => this.#o.clock()) as number,
      random: () => this.#value('random', Math.random) as number,
      uuid: () => this.#value('uuid', randomUUID) as string,
      log: { info: log('info'), warn: log('warn'), error: log('error') },
    };
  }

  /** Matches the call at the next position against the journal; undefined means a new call. */
  #match(actual: DurableCall, accepts: (entry: JournalEntry) => boolean): { position: number; entry: JournalEntry | undefined } {
    const position = this.#position++;
    const entry = this.#o.state.journal[position];
    if (entry !== undefined && !accepts(entry)) {
      const error = new NondeterminismError(position, describeEntry(entry), actual);
      if (!this.#nondeterminism) {
        this.#nondeterminism = error;
        // The code no longer matches the log: nothing more of it may run, even if it catches this.
        void this.#failWith(error);
      }
      throw error;
    }
    return { position, entry };
  }

  async #step<T>(name: string, fn: (info: StepInfo) => T | Promise<T>, options: StepOptions = {}): Promise<T> {
    if (this.#stopped) return parked();
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('ctx.step needs a non-empty name');
    if (typeof fn !== 'function') throw new TypeError(`ctx.step("${name}") needs a function`);
    // Options are checked before the call takes its position, so code that catches the error
    // and goes on still lines up with the log.
    const policy = resolveRetryPolicy(options.retry);
    const timeoutMs = stepTimeout(options.timeout, `timeout of step "${name}"`);
    const heartbeatTimeoutMs = stepTimeout(options.heartbeatTimeout, `heartbeatTimeout of step "${name}"`);
    const guard = this.#guard(name, options);
    const { position, entry } = this.#match({ kind: 'step', name }, (e) => (e.kind === 'step' && e.name === name) || e.kind === 'cancel');
    this.#inbox.cancelAt(position, entry);
    if (entry === undefined) {
      return this.#active(async () => {
        const settings = { policy, timeoutMs, heartbeatTimeoutMs };
        const startedAt = await this.#steps.begin(position, name, 1, guard, settings);
        if (this.#stopped) return parked();
        return this.#steps.attempts(position, name, { ...settings, firstStartedAt: startedAt, ...(guard ? { guard } : {}) }, 1, fn);
      });
    }
    const step = entry as StepState;
    switch (step.status) {
      case 'completed':
        return this.#replayed(step.settledSeq, () => step.output as T);
      case 'failed':
        return this.#replayed(step.settledSeq, () => {
          if (step.failure?.name === 'CircuitOpenError') throw new CircuitOpenError(step.failure.message);
          throw new StepFailedError(name, step.attempts.length, step.reason ?? 'gave up', fromFailure(step.failure ?? unknownFailure));
        });
      case 'blocked': {
        // Held back by its breaker without spending the attempt: wait out the block, then ask again.
        const next = step.attempts.length + 1;
        if (this.#o.state.timers[blockTimerId(position, next)]) return this.#durableWait();
        return this.#active(async () => {
          const first =
            next === 1 ? { policy: step.policy, timeoutMs: step.timeoutMs, heartbeatTimeoutMs: step.heartbeatTimeoutMs } : undefined;
          const startedAt = await this.#steps.begin(position, name, next, guard, first);
          if (this.#stopped) return parked();
          const settings = {
            policy: step.policy,
            timeoutMs: step.timeoutMs,
            heartbeatTimeoutMs: step.heartbeatTimeoutMs,
            firstStartedAt: step.attempts[0]?.startedAt ?? startedAt,
            ...(guard ? { guard } : {}),
          };
          return this.#steps.attempts(position, name, settings, next, fn);
        });
      }
      case 'running':
        // The worker claims a job whose log ends in an open attempt, which closes it; so this is a bug.
        throw new Error(`step "${name}" attempt ${step.attempts.length} is still open in the log of job ${this.#jobId}`);
      case 'retrying': {
        const next = step.attempts.length + 1;
        if (step.retryAt === undefined) throw new Error(`step "${name}" failed attempt ${step.attempts.length} has no retry scheduled`);
        if (this.#o.state.timers[retryTimerId(position, next)]) return this.#durableWait();
        const retryAt = step.retryAt;
        return this.#active(async () => {
          await this.#steps.waitUntil(retryAt);
          if (this.#stopped) return parked();
          await this.#steps.begin(position, name, next, guard);
          if (this.#stopped) return parked();
          const settings = {
            policy: step.policy,
            timeoutMs: step.timeoutMs,
            heartbeatTimeoutMs: step.heartbeatTimeoutMs,
            firstStartedAt: step.attempts[0]?.startedAt ?? this.#o.clock(),
            ...(guard ? { guard } : {}),
          };
          return this.#steps.attempts(position, name, settings, next, fn);
        });
      }
    }
  }

  async #sleep(fireAt: number, label: string): Promise<void> {
    if (this.#stopped) return parked();
    if (!Number.isFinite(fireAt) || fireAt > MAX_TIME_MS) throw new RangeError(`${label} ends after the latest time the log can hold`);
    const { position, entry } = this.#match({ kind: 'sleep' }, (e) => e.kind === 'sleep' || e.kind === 'cancel');
    if (entry?.kind === 'sleep' && entry.fired) return this.#replayed(entry.settledSeq, () => undefined);
    this.#inbox.cancelAt(position, entry);
    if (entry === undefined) this.#appends.push({ type: 'TimerStarted', position, fireAt });
    await this.#wait(position, { kind: 'sleep' });
  }

  async #waitForSignal(name: string, timeout: Duration | undefined): Promise<SignalResult<unknown>> {
    if (this.#stopped) return parked();
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('ctx.waitForSignal needs a non-empty name');
    const timeoutAt = timeout === undefined ? undefined : this.#o.clock() + toMs(timeout, `timeout of ctx.waitForSignal("${name}")`);
    if (timeoutAt !== undefined && timeoutAt > MAX_TIME_MS)
      throw new RangeError(`the timeout of ctx.waitForSignal("${name}") is too far away`);
    const { position, entry } = this.#match({ kind: 'wait', name }, (e) => (e.kind === 'wait' && e.name === name) || e.kind === 'cancel');
    if (entry?.kind === 'wait' && entry.ended) {
      const { signalId } = entry;
      return this.#replayed(entry.settledSeq, () =>
        signalId === undefined ? { timedOut: true as const } : { timedOut: false as const, payload: this.#inbox.payloadOf(signalId) },
      );
    }
    this.#inbox.cancelAt(position, entry);
    if (entry === undefined) this.#appends.push({ type: 'WaitStarted', position, name, ...(timeoutAt === undefined ? {} : { timeoutAt }) });
    const taken = this.#inbox.takeSignal(position, name);
    if (taken) return taken;
    const started = entry?.kind === 'wait' ? entry : undefined;
    if (started?.timeoutAt !== undefined && !this.#o.state.timers[waitTimerId(position)]) {
      // Its timeout fired while the job was parked.
      this.#appends.push({ type: 'WaitEnded', position, endedAt: this.#o.clock() });
      return { timedOut: true };
    }
    return this.#wait(position, { kind: 'wait', name }) as Promise<SignalResult<unknown>>;
  }

  /** Blocks on a durable wait until a signal, a cancellation or a later delivery ends it. */
  async #continueAsNew(input: unknown): Promise<never> {
    if (this.#stopped) return parked();
    if (this.#nondeterminism) throw this.#nondeterminism;
    assertStorable(input, `input of the job continuing "${this.#o.workflow.name}"`);
    this.#appends.push({ type: 'JobContinued', input, continuedAt: this.#o.clock() });
    try {
      await this.#appends.sync();
      this.#finish({ kind: 'completed' });
    } catch {
      // The append queue has aborted the run with the cause.
    }
    return parked();
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

  async #child(workflow: Workflow<never, unknown> | string, input: unknown, options: ChildOptions = {}): Promise<unknown> {
    if (this.#stopped) return parked();
    const name = typeof workflow === 'string' ? workflow : workflow.name;
    assertStorable(input, `input of child workflow "${name}"`);
    const { position, entry } = this.#match(
      { kind: 'child', name },
      (e) => (e.kind === 'child' && e.workflow === name) || e.kind === 'cancel',
    );
    if (entry?.kind === 'child' && entry.finished) {
      const { childJobId, status, output, failure } = entry;
      return this.#replayed(entry.settledSeq, () => {
        if (status === 'completed') return output;
        throw new ChildFailedError(childJobId, status ?? 'failed', failure ?? unknownFailure);
      });
    }
    this.#inbox.cancelAt(position, entry);
    const childJobId = entry?.kind === 'child' ? entry.childJobId : (options.jobId ?? `${this.#jobId}.c${position}`);
    if (entry === undefined) {
      const problem = jobIdProblem(childJobId);
      if (problem) throw new RangeError(`child job id: ${problem}`);
      this.#appends.push({
        type: 'ChildStarted',
        position,
        childJobId,
        workflow: name,
        input,
        cancelWithParent: options.cancelWithParent ?? true,
      });
    }
    // Listen first, so a child that ends at once is not missed.
    const ended = this.#inbox.wait(position, { kind: 'child', childJobId }) as Promise<ChildFinished>;
    // Durable first, so no child exists that its parent's log does not name; then (again, on a
    // replay) start it: a start of an existing job attaches to it, and one that has finished
    // already puts its outcome in this job's inbox. The run does not park meanwhile.
    await this.#active(async () => {
      await this.#appends.sync();
      if (this.#stopped) return;
      await this.#o.engine.send({
        type: 'StartJob',
        workflow: name,
        input,
        jobId: childJobId,
        parent: { jobId: this.#jobId, position },
        ...(typeof workflow === 'string' ? {} : { version: workflow.version }),
      });
    });
    if (this.#stopped) return parked();
    const finished = await ended;
    if (finished.status === 'completed') return finished.output;
    throw new ChildFailedError(childJobId, finished.status, finished.failure ?? unknownFailure);
  }

  #wait(position: number, what: WaitFor): Promise<unknown> {
    const ended = this.#inbox.wait(position, what);
    this.#maybePark();
    return ended;
  }

  /**
   * Before letting go of a job that waits for a signal or might be cancelled: a look at the log's
   * tail, since inbox events that came after this run's last append reached no one. True when
   * that ended a wait, so the run goes on.
   */
  async #lastLook(): Promise<boolean> {
    if (this.#stopped) return false;
    if (!this.#inbox.listening) return false;
    const tail = await this.#o.engine.readHistory(this.#jobId, this.#appends.seq);
    const inbox = tail.events.filter((recorded) => INBOX_EVENTS.has(recorded.event.type));
    if (inbox.length === 0 || inbox.length !== tail.events.length) return false;
    const waits = this.#inbox.waits;
    this.#appends.record(inbox);
    this.#receive(inbox);
    return this.#inbox.waits < waits;
  }

  /** Takes in signals and a cancellation that arrived while this run held the job. */
  #receive(inbox: readonly RecordedEvent[]): void {
    this.#inbox.receive(inbox);
    if (this.#appends.pending > 0) void this.#appends.sync().catch(() => {});
  }

  /**
   * A recorded result, handed back in the order the log settled it: calls made together (as in
   * `Promise.race` or `Promise.all`) see their results arrive in the order they first did, so
   * the race is won by the same call on every replay.
   */
  #replayed<T>(settledSeq: number | undefined, result: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#gate.push({
        seq: settledSeq ?? 0,
        settle: () => {
          try {
            resolve(result());
          } catch (error) {
            reject(error);
          }
        },
      });
      // After every microtask: all calls of this burst are made and everyone awaiting them listens.
      if (this.#gate.length === 1) setImmediate(() => this.#openGate());
    });
  }

  #openGate(): void {
    for (const waiting of this.#gate.splice(0).sort((a, b) => a.seq - b.seq)) waiting.settle();
  }

  /**
   * True where the job runs code with change `id`: at a marker the log recorded for it, or at a
   * call not yet made (then recorded). False — taking no position — when replaying a job that
   * reached this point on code without the change, so its recorded calls still line up.
   */
  #patched(id: string): boolean {
    if (this.#nondeterminism) throw this.#nondeterminism;
    if (typeof id !== 'string' || id.length === 0) throw new TypeError('ctx.patched needs a non-empty id');
    const entry = this.#o.state.journal[this.#position];
    if (entry !== undefined && !(entry.kind === 'value' && entry.valueKind === 'patch' && entry.value === id)) return false;
    this.#value('patch', () => id);
    return true;
  }

  #value(kind: ValueKind, make: () => number | string): number | string {
    if (this.#nondeterminism) throw this.#nondeterminism;
    const { position, entry } = this.#match({ kind }, (e) => e.kind === 'value' && e.valueKind === kind);
    if (entry?.kind === 'value') return entry.value;
    const value = make();
    // Not appended on its own: it travels with the next append, before any side effect that could depend on it.
    this.#appends.push({ type: 'ValueRecorded', position, kind, value });
    return value;
  }

  /** Counts a step as active while `work` runs, so the job is not parked under it. */
  async #active<T>(work: () => Promise<T>): Promise<T> {
    this.#activeSteps++;
    try {
      return await work();
    } catch (error) {
      if (error !== PARK) throw error;
    } finally {
      this.#activeSteps--;
      this.#maybePark();
    }
    return this.#durableWait();
  }

  /** A wait the engine ends (timer): the run lets go of the job once nothing else is active. */
  #durableWait<T>(): Promise<T> {
    this.#timerWaits++;
    this.#maybePark();
    return parked();
  }

  #maybePark(): void {
    if (this.#timerWaits + this.#inbox.waits === 0) return;
    // Let the workflow code run on first: it may start more work or finish.
    setImmediate(() => {
      if (this.#stopped || this.#activeSteps > 0) return;
      this.#appends
        .sync()
        .then(() => this.#lastLook())
        .then(
          (woken) => {
            if (!woken) this.#finish({ kind: 'suspended' });
          },
          () => {},
        );
    });
  }

  /** True once the run must do nothing more: it ended, or the code diverged from the log. */
  get #stopped(): boolean {
    return this.#done || this.#nondeterminism !== undefined;
  }

  /** Fails the job with `error` at once, whatever the workflow code does next. */
  async #failWith(error: Error): Promise<void> {
    if (this.#done) return;
    this.#appends.push({ type: 'JobFailed', failure: toFailure(error), failedAt: this.#o.clock() });
    try {
      await this.#appends.sync();
      this.#finish({ kind: 'failed' });
    } catch {
      // The append queue has aborted the run with the cause.
    }
  }

  #abort(error: unknown): void {
    if (this.#done) return;
    this.#appends.close(error);
    this.#finish({ kind: 'aborted', error });
  }

  #finish(outcome: RunOutcome): void {
    if (this.#done) return;
    this.#done = true;
    this.#stepAbort.abort();
    this.#settle(outcome);
  }
}

const unknownFailure: Failure = { name: 'Error', message: 'unknown failure' };

function describeEntry(entry: JournalEntry): DurableCall {
  switch (entry.kind) {
    case 'step':
      return { kind: 'step', name: entry.name };
    case 'sleep':
      return { kind: 'sleep' };
    case 'value':
      return { kind: entry.valueKind };
    case 'wait':
      return { kind: 'wait', name: entry.name };
    case 'child':
      return { kind: 'child', name: entry.workflow };
    case 'cancel':
      return { kind: 'cancel' };
  }
}

/** A step's timeout option in ms, refusing what a Node timer cannot wait. */
function stepTimeout(duration: Duration | undefined, label: string): number | undefined {
  if (duration === undefined) return undefined;
  const ms = toMs(duration, label);
  if (ms > MAX_TIMEOUT_MS) throw new RangeError(`${label} is ${ms} ms; the longest is ${MAX_TIMEOUT_MS} ms (about 24.8 days)`);
  return ms;
}
