import { randomUUID } from 'node:crypto';
import {
  type AppendEvents,
  type AppendEventsReply,
  assertStorable,
  foldEvents,
  INBOX_EVENTS,
  type JobEvent,
  type JobState,
  type JournalEntry,
  REAL_TIMERS,
  type RecordedEvent,
  type Timers,
  toFailure,
  toMs,
  type ValueKind,
} from '@ratchet/protocol';
import { type Breaker, type DurableCall, type EngineClient, NondeterminismError, type Workflow, type WorkflowContext } from '@ratchet/sdk';
import type { Logger } from 'pino';
import { AppendQueue } from './append-queue.ts';
import { DurableCalls } from './durable-calls.ts';
import { Inbox, type WaitFor } from './inbox.ts';
import { PARK, parked } from './park.ts';
import { ReplayGate } from './replay-gate.ts';
import { type AroundAttempt, StepRunner } from './step-runner.ts';

/** How one delivery of a job ended. */
export type RunOutcome =
  | { readonly kind: 'completed' | 'failed' | 'suspended' }
  /** Replay only: the code made every call the log recorded, up to `position`. */
  | { readonly kind: 'replayed'; readonly position: number }
  /** Replay only: the code diverged from the log. */
  | { readonly kind: 'diverged'; readonly error: NondeterminismError }
  /** The run stopped without finishing its work: fenced off, engine unreachable, or shutdown. */
  | { readonly kind: 'aborted'; readonly error: unknown };

export interface JobRunOptions {
  /** The job's state folded from its whole log, at the epoch this run holds. */
  readonly state: JobState;
  readonly workflow: Workflow;
  readonly engine: EngineClient;
  readonly worker: string;
  readonly clock: () => number;
  /** Wake-ups on the same time as `clock` (retry waits, step timeouts). @default REAL_TIMERS */
  readonly timers?: Timers;
  /** Runs each step attempt in place of the step function (see `WorkerOptions.aroundAttempt`). */
  readonly aroundAttempt?: AroundAttempt;
  readonly logger: Logger;
  /** Retry waits up to this long are waited out in the worker; longer ones go through durable timers. */
  readonly maxInProcessWaitMs: number;
  /** Aborted when the worker shuts down. */
  readonly signal: AbortSignal;
  /**
   * Replay only, for debugging and deploy checks: recorded calls replay, and the run ends
   * (`replayed`) at the first call the log does not have, or (`diverged`) at a nondeterminism;
   * nothing is appended and no step runs.
   */
  readonly replayOnly?: boolean;
  /** Breakers steps may name. */
  readonly breakers?: ReadonlyMap<string, Breaker>;
  /** Sends an append (the worker's batches those of its runs). @default `engine.send` */
  readonly sendAppend?: (command: AppendEvents, engine: string | undefined) => Promise<AppendEventsReply>;
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
  readonly #calls: DurableCalls;
  #activeSteps = 0;
  /** Waits only the engine ends (durable retry timers): unlike the inbox's, nothing in this run ends them. */
  #timerWaits = 0;
  #done = false;
  /** The workflow function has returned or thrown: its ending, not a park, ends the run. */
  #returned = false;
  readonly #gate = new ReplayGate();
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
      send: options.sendAppend ?? ((command, engine) => options.engine.send(command, { engine })),
      jobId: this.#jobId,
      epoch: state.epoch,
      lastSeq: state.lastSeq,
      clock,
      nextTurn: options.nextTurn ?? (() => new Promise((resolve) => setImmediate(resolve))),
      receive: (inbox) => this.#receive(inbox),
      abort: (error) => this.#abort(error),
    });
    this.#inbox = new Inbox({ state, clock, push: (...events) => this.#appends.push(...events) });
    const steps = new StepRunner({
      jobId: this.#jobId,
      worker: options.worker,
      epoch: state.epoch,
      clock,
      timers: options.timers ?? REAL_TIMERS,
      aroundAttempt: options.aroundAttempt,
      maxInProcessWaitMs: options.maxInProcessWaitMs,
      appends: this.#appends,
      signal: this.#stepAbort.signal,
      stopped: () => this.#stopped,
      engine: options.engine,
      cancelled: (stepId) => this.#inbox.cancelBetweenAttempts(stepId),
    });
    this.#calls = new DurableCalls({
      jobId: this.#jobId,
      clock,
      timers: state.timers,
      engine: options.engine,
      breakers: options.breakers,
      appends: this.#appends,
      inbox: this.#inbox,
      steps,
      gate: this.#gate,
      stopped: () => this.#stopped,
      match: (actual, accepts) => this.#match(actual, accepts),
      active: (work) => this.#active(work),
      durableWait: () => this.#durableWait(),
      wait: (position, what) => this.#wait(position, what),
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
    /** What the workflow function threw, if it did not return. */
    let thrown: { readonly error: unknown } | undefined;
    try {
      const output = await this.#o.workflow.run(this.#context(), this.#o.state.input);
      this.#returned = true;
      if (this.#nondeterminism) throw this.#nondeterminism;
      assertStorable(output, `output of workflow "${this.#o.workflow.name}"`);
      ending = { type: 'JobCompleted', output, completedAt: this.#o.clock() };
    } catch (error) {
      this.#returned = true;
      if (this.#done || this.#nondeterminism) return;
      thrown = { error };
      const cancelled = error instanceof Error && error.name === 'CancelledError' && this.#inbox.cancel?.deliveredAt !== undefined;
      ending = cancelled
        ? { type: 'JobCancelled', reason: this.#inbox.cancel?.reason ?? 'cancelled', terminated: false, cancelledAt: this.#o.clock() }
        : { type: 'JobFailed', failure: toFailure(error), failedAt: this.#o.clock() };
    }
    // A nondeterminism has already recorded the job's failure.
    if (this.#done || this.#nondeterminism) return;
    if (this.#o.replayOnly) {
      this.#finish(this.#replayEnding(thrown));
      return;
    }
    this.#appends.push(ending);
    try {
      await this.#appends.sync();
      this.#finish({ kind: ending.type === 'JobCompleted' ? 'completed' : 'failed' });
    } catch {
      // The append queue has aborted the run with the cause.
    }
  }

  /**
   * Replay only: the workflow function has ended (or continued as a new job). It diverged if the
   * log recorded more calls than it made (it threw or returned early), or recorded another
   * ending: a completion where it threw or continued, a failure where it returned, a continuation
   * where it returned or threw.
   */
  #replayEnding(thrown: { readonly error: unknown } | undefined, continued = false): RunOutcome {
    const { journal, status, failure } = this.#o.state;
    const actual: DurableCall = continued
      ? { kind: 'continueAsNew' }
      : thrown
        ? { kind: 'throw', name: errorLabel(thrown.error) }
        : { kind: 'return' };
    const next = journal[this.#position];
    let expected: DurableCall | undefined;
    if (next !== undefined) expected = describeEntry(next);
    else if (status === 'completed' && actual.kind !== 'return') expected = { kind: 'return' };
    else if (status === 'failed' && actual.kind !== 'throw')
      expected = { kind: 'throw', name: failure ? `${failure.name}: ${failure.message}` : 'an error' };
    else if (status === 'continued' && actual.kind !== 'continueAsNew') expected = { kind: 'continueAsNew' };
    if (expected === undefined) return { kind: 'replayed', position: this.#position };
    // The cause carries the stack of the throw: where in the workflow's code it ended.
    const error = new NondeterminismError(this.#position, expected, actual, thrown ? { cause: thrown.error } : undefined);
    return { kind: 'diverged', error };
  }

  #context(): WorkflowContext {
    const { state, logger } = this.#o;
    const log = (level: 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
      if (this.#position >= state.journal.length) logger[level]({ jobId: this.#jobId, ...fields }, message);
    };
    return {
      jobId: this.#jobId,
      workflow: state.workflow,
      step: (name, fn, options) => this.#calls.step(name, fn, options),
      sleep: (duration) => this.#calls.sleep(this.#o.clock() + toMs(duration, 'ctx.sleep duration'), `ctx.sleep(${String(duration)})`),
      waitUntil: (time) => this.#calls.sleep(time instanceof Date ? time.getTime() : time, 'ctx.waitUntil'),
      waitForSignal: (name, options) => this.#calls.waitForSignal(name, options?.timeout) as never,
      patched: (id) => this.#patched(id),
      continueAsNew: (input) => this.#continueAsNew(input),
      child: (workflow, input, options) => this.#calls.child(workflow as Workflow<never, unknown> | string, input, options) as never,
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
    if (this.#o.replayOnly && (entry === undefined || isOpen(entry) || !accepts(entry))) {
      // Replaying, the log ends at a call it does not have or one it leaves open.
      if (entry === undefined || (isOpen(entry) && accepts(entry))) this.#finish({ kind: 'replayed', position });
      else this.#finish({ kind: 'diverged', error: new NondeterminismError(position, describeEntry(entry), actual) });
      throw new Error('the replay has ended');
    }
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

  /** Ends the job by continuing it as a new one with `input`; the run ends once that is durable. */
  async #continueAsNew(input: unknown): Promise<never> {
    if (this.#stopped) return parked();
    if (this.#nondeterminism) throw this.#nondeterminism;
    assertStorable(input, `input of the job continuing "${this.#o.workflow.name}"`);
    if (this.#o.replayOnly) {
      // Judged against the log's ending here, while the workflow's call is on the stack (where it diverged).
      this.#finish(this.#replayEnding(undefined, true));
      return parked();
    }
    this.#appends.push({ type: 'JobContinued', input, continuedAt: this.#o.clock() });
    try {
      await this.#appends.sync();
      this.#finish({ kind: 'completed' });
    } catch {
      // The append queue has aborted the run with the cause.
    }
    return parked();
  }

  /** Blocks on a durable wait until a signal, a cancellation or a later delivery ends it. */
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
      if (this.#stopped || this.#returned || this.#activeSteps > 0) return;
      // Recorded results about to be handed back move the workflow on, past a wait it no longer
      // awaits (one that lost a Promise.race): parking now would leave the job until that wait
      // ends, or with its finished workflow unrecorded. Look again once they are handed back.
      if (this.#gate.holding) return this.#maybePark();
      this.#appends
        .sync()
        .then(() => this.#lastLook())
        .then(
          (woken) => {
            // Woken: the workflow takes what came in. Look again once it has: it may still wait on
            // something else (a Promise.all of children, one still running), and then nothing
            // else would ever park it, and the wake-ups queued behind this run would wait on it.
            if (woken) return this.#maybePark();
            // The workflow moved on meanwhile (a reply's inbox ended a wait): not parked yet.
            if (this.#returned || this.#activeSteps > 0 || this.#gate.holding) return this.#maybePark();
            this.#finish({ kind: 'suspended' });
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
    // With a reason of its own, abort() would build a DOMException (with its stack) for every run.
    this.#stepAbort.abort(RUN_ENDED);
    this.#settle(outcome);
  }
}

/** "TypeError: x is not a function", for a throw in a divergence report. */
function errorLabel(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 200);
  return `a thrown ${error === null ? 'null' : typeof error}`;
}

/** Why the run's steps are aborted when it ends; nothing shows it to user code (attempts get their own). */
const RUN_ENDED = new Error('the job run has ended');

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

/** A call the log shows still in progress: where a replay of the log ends. */
function isOpen(entry: JournalEntry): boolean {
  switch (entry.kind) {
    case 'step':
      return entry.status !== 'completed' && entry.status !== 'failed';
    case 'sleep':
      return !entry.fired;
    case 'wait':
      return !entry.ended;
    case 'child':
      return !entry.finished;
    default:
      return false;
  }
}
