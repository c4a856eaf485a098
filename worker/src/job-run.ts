import { randomUUID } from 'node:crypto';
import {
  assertStorable,
  decideRetry,
  type Failure,
  foldEvents,
  fromFailure,
  type JobEvent,
  type JobState,
  type JournalEntry,
  MAX_TIME_MS,
  MAX_TIMEOUT_MS,
  type RecordedEvent,
  type ResolvedRetryPolicy,
  resolveRetryPolicy,
  retryTimerId,
  type StepState,
  toFailure,
  toMs,
  type ValueKind,
} from '@ratchet/protocol';
import {
  type DurableCall,
  type EngineClient,
  NondeterminismError,
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
      ending = { type: 'JobFailed', failure: toFailure(error), failedAt: this.#o.clock() };
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
      sleep: (duration) => this.#sleep(duration),
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
    const { position, entry } = this.#match({ kind: 'step', name }, (e) => e.kind === 'step' && e.name === name);
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

  async #sleep(duration: Parameters<WorkflowContext['sleep']>[0]): Promise<void> {
    if (this.#stopped) return parked();
    const ms = toMs(duration, 'ctx.sleep duration');
    const fireAt = this.#o.clock() + ms;
    if (fireAt > MAX_TIME_MS) throw new RangeError(`ctx.sleep(${String(duration)}) ends after the latest time the log can hold`);
    const { position, entry } = this.#match({ kind: 'sleep' }, (e) => e.kind === 'sleep');
    if (entry === undefined) {
      this.#push({ type: 'TimerStarted', position, fireAt });
      return this.#durableWait();
    }
    if (entry.kind === 'sleep' && entry.fired) return;
    return this.#durableWait();
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
      this.#sync().then(
        () => this.#finish({ kind: 'suspended' }),
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
        for (const [i, event] of events.entries()) this.#appended.push({ seq: this.#seq + i + 1, recordedAt: committedAt, event });
        this.#seq = reply.lastSeq;
        this.#committed += events.length;
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
  }
}
