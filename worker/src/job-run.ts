import { randomUUID } from 'node:crypto';
import {
  assertStorable,
  type CancelRequest,
  type Duration,
  decideRetry,
  type Failure,
  foldEvents,
  fromFailure,
  INBOX_EVENTS,
  type JobEvent,
  type JobState,
  type JournalEntry,
  MAX_TIME_MS,
  MAX_TIMEOUT_MS,
  type RecordedEvent,
  type ResolvedRetryPolicy,
  resolveRetryPolicy,
  retryTimerId,
  type SignalState,
  type StepState,
  toFailure,
  toMs,
  type ValueKind,
  waitTimerId,
} from '@ratchet/protocol';
import {
  CancelledError,
  type DurableCall,
  type EngineClient,
  NondeterminismError,
  type SignalResult,
  StepFailedError,
  type StepInfo,
  type StepOptions,
  StepTimeoutError,
  type Workflow,
  type WorkflowContext,
} from '@ratchet/sdk';
import type { Logger } from 'pino';

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
  /** Resolves at the next turn of the event loop (shared by the worker's runs). @default setImmediate */
  readonly nextTurn?: () => Promise<void>;
}

/** Thrown inside an active step to park the job on a durable wait once the step stops counting as active. */
const PARK = Symbol('park');

/** A durable wait in progress. */
type Waiting = ({ readonly kind: 'sleep' } | { readonly kind: 'wait'; readonly name: string }) & {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
};

/** A promise that never settles: what a durable call returns once the run has let go of the job. */
const parked = <T>(): Promise<T> => new Promise<T>(() => {});

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
  #seq: number;
  readonly #queue: JobEvent[] = [];
  /** What this run appended, as recorded (commit times as seen here): the run's end state is the log plus these. */
  readonly #appended: RecordedEvent[] = [];
  #pushed = 0;
  #committed = 0;
  #syncing: Promise<void> | undefined;
  #activeSteps = 0;
  #durableWaits = 0;
  /** Durable waits (sleeps, signal waits) this run is blocked on, by position. */
  readonly #waiting = new Map<number, Waiting>();
  /** The job's inbox as this run knows it: the log's, plus what append replies brought. */
  readonly #signals: SignalState[];
  #cancel: CancelRequest | undefined;
  #done = false;
  #abortError: unknown;
  #nondeterminism: NondeterminismError | undefined;
  readonly #stepAbort = new AbortController();
  #settle!: (outcome: RunOutcome) => void;
  readonly #outcome = new Promise<RunOutcome>((resolve) => {
    this.#settle = resolve;
  });

  constructor(options: JobRunOptions) {
    this.#o = options;
    this.#jobId = options.state.jobId;
    this.#seq = options.state.lastSeq;
    this.#signals = options.state.signals.slice();
    this.#cancel = options.state.cancel;
  }

  /**
   * The job's state after this run: the state it started from plus everything it appended (with
   * commit times as this worker saw them). Lets the worker resume a parked job from a short tail.
   */
  endState(): JobState {
    return foldEvents(this.#jobId, this.#appended, this.#o.state);
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
      const cancelled = error instanceof Error && error.name === 'CancelledError' && this.#cancel?.deliveredAt !== undefined;
      ending = cancelled
        ? { type: 'JobCancelled', reason: this.#cancel?.reason ?? 'cancelled', terminated: false, cancelledAt: this.#o.clock() }
        : { type: 'JobFailed', failure: toFailure(error), failedAt: this.#o.clock() };
    }
    // A nondeterminism has already recorded the job's failure.
    if (this.#done || this.#nondeterminism) return;
    this.#push(ending);
    try {
      await this.#sync();
      this.#finish({ kind: ending.type === 'JobCompleted' ? 'completed' : 'failed' });
    } catch {
      // #sync has aborted the run with the cause.
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
    const timeoutMs = options.timeout === undefined ? undefined : toMs(options.timeout, `timeout of step "${name}"`);
    if (timeoutMs !== undefined && timeoutMs > MAX_TIMEOUT_MS) {
      throw new RangeError(`timeout of step "${name}" is ${timeoutMs} ms; the longest is ${MAX_TIMEOUT_MS} ms (about 24.8 days)`);
    }
    const { position, entry } = this.#match({ kind: 'step', name }, (e) => (e.kind === 'step' && e.name === name) || e.kind === 'cancel');
    this.#cancelAt(position, entry);
    if (entry === undefined) {
      return this.#active(async () => {
        this.#push({
          type: 'StepStarted',
          stepId: position,
          name,
          attempt: 1,
          startedAt: this.#o.clock(),
          worker: this.#o.worker,
          epoch: this.#o.state.epoch,
          policy,
          ...(timeoutMs === undefined ? {} : { timeoutMs }),
        });
        await this.#sync();
        if (this.#stopped) return parked();
        return this.#attempts(position, name, policy, timeoutMs, 1, fn);
      });
    }
    const step = entry as StepState;
    switch (step.status) {
      case 'completed':
        return step.output as T;
      case 'failed':
        throw new StepFailedError(name, step.attempts.length, step.reason ?? 'gave up', fromFailure(step.failure ?? unknownFailure));
      case 'running':
        // The worker claims a job whose log ends in an open attempt, which closes it; so this is a bug.
        throw new Error(`step "${name}" attempt ${step.attempts.length} is still open in the log of job ${this.#jobId}`);
      case 'retrying': {
        const next = step.attempts.length + 1;
        if (step.retryAt === undefined) throw new Error(`step "${name}" failed attempt ${step.attempts.length} has no retry scheduled`);
        if (this.#o.state.timers[retryTimerId(position, next)]) return this.#durableWait();
        const retryAt = step.retryAt;
        return this.#active(async () => {
          await this.#waitUntil(retryAt);
          if (this.#stopped) return parked();
          this.#push(this.#started(position, name, next));
          await this.#sync();
          if (this.#stopped) return parked();
          return this.#attempts(position, name, step.policy, step.timeoutMs, next, fn);
        });
      }
    }
  }

  /** Runs attempts from `attempt` on (its StepStarted is durable) until success or give-up. */
  async #attempts<T>(
    stepId: number,
    name: string,
    policy: ResolvedRetryPolicy,
    timeoutMs: number | undefined,
    first: number,
    fn: (info: StepInfo) => T | Promise<T>,
  ): Promise<T> {
    for (let attempt = first; ; ) {
      const result = await this.#runAttempt(stepId, name, attempt, timeoutMs, fn);
      if (this.#stopped) return parked();
      const now = this.#o.clock();
      if (result.ok) {
        this.#push({ type: 'StepCompleted', stepId, attempt, output: result.output, completedAt: now });
        void this.#sync().catch(() => {});
        return result.output;
      }
      const { failure } = result;
      const decision = decideRetry(policy, { jobId: this.#jobId, stepId, attempt, failedAt: now, failure });
      if (!decision.retry) {
        this.#push({ type: 'StepFailed', stepId, attempt, failure, failedAt: now, final: true, reason: decision.reason });
        void this.#sync().catch(() => {});
        throw new StepFailedError(name, attempt, decision.reason, fromFailure(failure));
      }
      const durable = decision.at - now > this.#o.maxInProcessWaitMs;
      this.#push(
        { type: 'StepFailed', stepId, attempt, failure, failedAt: now, final: false },
        { type: 'StepRetryScheduled', stepId, attempt: decision.attempt, at: decision.at, durable },
      );
      if (durable) throw PARK;
      void this.#sync().catch(() => {});
      await this.#waitUntil(decision.at);
      if (this.#stopped) return parked();
      attempt = decision.attempt;
      this.#push(this.#started(stepId, name, attempt));
      await this.#sync();
      if (this.#stopped) return parked();
    }
  }

  #started(stepId: number, name: string, attempt: number): JobEvent {
    return { type: 'StepStarted', stepId, name, attempt, startedAt: this.#o.clock(), worker: this.#o.worker, epoch: this.#o.state.epoch };
  }

  async #runAttempt<T>(
    stepId: number,
    name: string,
    attempt: number,
    timeoutMs: number | undefined,
    fn: (info: StepInfo) => T | Promise<T>,
  ): Promise<{ ok: true; output: T } | { ok: false; failure: Failure }> {
    const controller = new AbortController();
    const onRunAbort = () => controller.abort(new Error('the run was aborted'));
    this.#stepAbort.signal.addEventListener('abort', onRunAbort, { once: true });
    const info: StepInfo = {
      jobId: this.#jobId,
      stepId,
      name,
      attempt,
      idempotencyKey: `${this.#jobId}:${stepId}`,
      signal: controller.signal,
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      const work = Promise.resolve().then(() => fn(info));
      const output =
        timeoutMs === undefined
          ? await work
          : await Promise.race([
              work,
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => {
                  const error = new StepTimeoutError(`attempt ${attempt} of step "${name}" timed out after ${timeoutMs} ms`);
                  controller.abort(error);
                  reject(error);
                }, timeoutMs);
              }),
            ]);
      try {
        assertStorable(output, `output of step "${name}"`);
      } catch (error) {
        return { ok: false, failure: { ...toFailure(error), nonRetryable: true } };
      }
      return { ok: true, output };
    } catch (error) {
      return { ok: false, failure: toFailure(error) };
    } finally {
      clearTimeout(timer);
      this.#stepAbort.signal.removeEventListener('abort', onRunAbort);
    }
  }

  async #sleep(fireAt: number, label: string): Promise<void> {
    if (this.#stopped) return parked();
    if (!Number.isFinite(fireAt) || fireAt > MAX_TIME_MS) throw new RangeError(`${label} ends after the latest time the log can hold`);
    const { position, entry } = this.#match({ kind: 'sleep' }, (e) => e.kind === 'sleep' || e.kind === 'cancel');
    if (entry?.kind === 'sleep' && entry.fired) return;
    this.#cancelAt(position, entry);
    if (entry === undefined) this.#push({ type: 'TimerStarted', position, fireAt });
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
      if (entry.signalId === undefined) return { timedOut: true };
      return { timedOut: false, payload: this.#signals.find((signal) => signal.signalId === entry.signalId)?.payload };
    }
    this.#cancelAt(position, entry);
    if (entry === undefined) this.#push({ type: 'WaitStarted', position, name, ...(timeoutAt === undefined ? {} : { timeoutAt }) });
    const taken = this.#takeSignal(position, name);
    if (taken) return taken;
    const started = entry?.kind === 'wait' ? entry : undefined;
    if (started?.timeoutAt !== undefined && !this.#o.state.timers[waitTimerId(position)]) {
      // Its timeout fired while the job was parked.
      this.#push({ type: 'WaitEnded', position, endedAt: this.#o.clock() });
      return { timedOut: true };
    }
    return this.#wait(position, { kind: 'wait', name }) as Promise<SignalResult<unknown>>;
  }

  /** Takes the oldest untaken signal named `name` for the wait at `position`, recording it. */
  #takeSignal(position: number, name: string): SignalResult<unknown> | undefined {
    const index = this.#signals.findIndex((signal) => signal.name === name && signal.takenBy === undefined);
    const signal = this.#signals[index];
    if (!signal) return undefined;
    this.#signals[index] = { ...signal, takenBy: position };
    this.#push({ type: 'WaitEnded', position, signalId: signal.signalId, endedAt: this.#o.clock() });
    return { timedOut: false, payload: signal.payload };
  }

  /**
   * Tells the workflow of a cancellation at the call at `position`, by throwing `CancelledError`:
   * where the log says it was told, or — once — at the first durable call that is not replayed.
   */
  #cancelAt(position: number, entry: JournalEntry | undefined): void {
    const cancel = this.#cancel;
    // Only a new call or a wait still open is where the workflow stands; recorded calls replay.
    const frontier = entry === undefined || (entry.kind === 'wait' && !entry.ended) || (entry.kind === 'sleep' && !entry.fired);
    if (entry?.kind === 'cancel' || (cancel?.deliveredAt === position && frontier)) {
      throw new CancelledError(cancel?.reason ?? 'cancelled');
    }
    if (!cancel || cancel.deliveredAt !== undefined || !frontier) return;
    this.#deliverCancel(position);
    throw new CancelledError(cancel.reason);
  }

  #deliverCancel(position: number): void {
    this.#cancel = { ...(this.#cancel as CancelRequest), deliveredAt: position };
    this.#push({ type: 'CancelDelivered', position });
  }

  /** Blocks on a durable wait until a signal, a cancellation or a later delivery ends it. */
  #wait(position: number, what: { kind: 'sleep' } | { kind: 'wait'; name: string }): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#waiting.set(position, { ...what, resolve, reject });
      this.#durableWaits++;
      this.#maybePark();
    });
  }

  #endWait(position: number): Waiting | undefined {
    const waiting = this.#waiting.get(position);
    if (waiting) {
      this.#waiting.delete(position);
      this.#durableWaits--;
    }
    return waiting;
  }

  /**
   * Before letting go of a job that waits for a signal or might be cancelled: a look at the log's
   * tail, since inbox events that came after this run's last append reached no one. True when
   * that ended a wait, so the run goes on.
   */
  async #lastLook(): Promise<boolean> {
    if (this.#stopped) return false;
    const interested = (this.#cancel === undefined && this.#waiting.size > 0) || [...this.#waiting.values()].some((w) => w.kind === 'wait');
    if (!interested) return false;
    const tail = await this.#o.engine.readHistory(this.#jobId, this.#seq);
    const inbox = tail.events.filter((recorded) => INBOX_EVENTS.has(recorded.event.type));
    if (inbox.length === 0 || inbox.length !== tail.events.length) return false;
    const waiting = this.#waiting.size;
    this.#appended.push(...inbox);
    this.#seq = (inbox.at(-1) as RecordedEvent).seq;
    this.#receive(inbox);
    return this.#waiting.size < waiting;
  }

  /** Takes in signals and a cancellation that arrived while this run held the job. */
  #receive(inbox: readonly RecordedEvent[]): void {
    for (const { event } of inbox) {
      if (event.type === 'SignalReceived') {
        this.#signals.push({ signalId: event.signalId, name: event.name, payload: event.payload, receivedAt: event.receivedAt });
        const waiting = [...this.#waiting].sort(([a], [b]) => a - b).find(([, w]) => w.kind === 'wait' && w.name === event.name);
        if (waiting) {
          const [position, w] = waiting;
          this.#endWait(position);
          w.resolve(this.#takeSignal(position, event.name));
        }
      } else if (event.type === 'CancelRequested' && !this.#cancel) {
        this.#cancel = { reason: event.reason, requestedAt: event.requestedAt };
        const first = [...this.#waiting.keys()].sort((a, b) => a - b)[0];
        if (first !== undefined) {
          this.#deliverCancel(first);
          this.#endWait(first)?.reject(new CancelledError(event.reason));
        }
      }
    }
    if (this.#queue.length > 0) void this.#sync().catch(() => {});
  }

  #value(kind: ValueKind, make: () => number | string): number | string {
    if (this.#nondeterminism) throw this.#nondeterminism;
    const { position, entry } = this.#match({ kind }, (e) => e.kind === 'value' && e.valueKind === kind);
    if (entry?.kind === 'value') return entry.value;
    const value = make();
    // Not appended on its own: it travels with the next append, before any side effect that could depend on it.
    this.#push({ type: 'ValueRecorded', position, kind, value });
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
    this.#durableWaits++;
    this.#maybePark();
    return parked();
  }

  #maybePark(): void {
    if (this.#durableWaits === 0) return;
    // Let the workflow code run on first: it may start more work or finish.
    setImmediate(() => {
      if (this.#stopped || this.#activeSteps > 0) return;
      this.#sync()
        .then(() => this.#lastLook())
        .then(
          (woken) => {
            if (!woken) this.#finish({ kind: 'suspended' });
          },
          () => {},
        );
    });
  }

  #waitUntil(at: number): Promise<void> {
    const delay = at - this.#o.clock();
    if (delay <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const signal = this.#stepAbort.signal;
      const onAbort = () => clearTimeout(timer);
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, delay);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #push(...events: JobEvent[]): void {
    this.#queue.push(...events);
    this.#pushed += events.length;
  }

  /** Resolves when every event queued so far is in the log. */
  #sync(): Promise<void> {
    if (this.#abortError !== undefined) return Promise.reject(this.#abortError);
    const target = this.#pushed;
    if (this.#committed >= target) return Promise.resolve();
    this.#syncing ??= this.#drain();
    return this.#syncing.then(() => (this.#committed >= target ? undefined : this.#sync()));
  }

  async #drain(): Promise<void> {
    try {
      // One macrotask of grace: the workflow's continuation queues its next events into this append.
      await (this.#o.nextTurn ? this.#o.nextTurn() : new Promise((resolve) => setImmediate(resolve)));
      while (this.#queue.length > 0) {
        if (this.#abortError !== undefined) throw this.#abortError;
        const events = this.#queue.splice(0);
        const reply = await this.#o.engine.send({
          type: 'AppendEvents',
          jobId: this.#jobId,
          expectedSeq: this.#seq,
          epoch: this.#o.state.epoch,
          events,
        });
        const committedAt = this.#o.clock();
        if (reply.inbox) this.#appended.push(...reply.inbox);
        const first = reply.lastSeq - events.length + 1;
        for (const [i, event] of events.entries()) this.#appended.push({ seq: first + i, recordedAt: committedAt, event });
        this.#seq = reply.lastSeq;
        this.#committed += events.length;
        if (reply.inbox) this.#receive(reply.inbox);
      }
    } catch (error) {
      this.#abort(error);
      throw error;
    } finally {
      this.#syncing = undefined;
    }
  }

  /** True once the run must do nothing more: it ended, or the code diverged from the log. */
  get #stopped(): boolean {
    return this.#done || this.#nondeterminism !== undefined;
  }

  /** Fails the job with `error` at once, whatever the workflow code does next. */
  async #failWith(error: Error): Promise<void> {
    if (this.#done) return;
    this.#push({ type: 'JobFailed', failure: toFailure(error), failedAt: this.#o.clock() });
    try {
      await this.#sync();
      this.#finish({ kind: 'failed' });
    } catch {
      // #sync has aborted the run with the cause.
    }
  }

  #abort(error: unknown): void {
    if (this.#done) return;
    this.#abortError = error;
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
    case 'cancel':
      return { kind: 'cancel' };
  }
}
