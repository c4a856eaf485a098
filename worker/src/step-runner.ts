import {
  assertStorable,
  decideRetry,
  type Failure,
  fromFailure,
  type JobEvent,
  type ResolvedRetryPolicy,
  type Timers,
  toFailure,
} from '@ratchet/protocol';
import {
  type Breaker,
  CircuitOpenError,
  type EngineClient,
  StepFailedError,
  StepHeartbeatError,
  type StepInfo,
  StepTimeoutError,
} from '@ratchet/sdk';
import type { AppendQueue } from './append-queue.ts';
import { PARK, parked } from './park.ts';

export interface StepRunnerOptions {
  readonly jobId: string;
  readonly worker: string;
  /** The epoch the run holds, recorded on every attempt it starts. */
  readonly epoch: number;
  readonly clock: () => number;
  /** Retry waits, attempt timeouts and heartbeat timeouts, on the same time as `clock`. */
  readonly timers: Timers;
  /** Runs each attempt in place of the step function; see `WorkerOptions.aroundAttempt`. */
  readonly aroundAttempt: AroundAttempt | undefined;
  /** Retry waits up to this long are waited out in the worker; longer ones go through durable timers. */
  readonly maxInProcessWaitMs: number;
  readonly appends: AppendQueue;
  /** Aborted when the run ends: attempts in flight are aborted, and retry waits cut short. */
  readonly signal: AbortSignal;
  /** True once the run must do nothing more. */
  readonly stopped: () => boolean;
  /** Asks the engine's breakers for admission. */
  readonly engine: Pick<EngineClient, 'send'>;
  /**
   * Between attempts of the step at `stepId`: the `CancelledError` to end it with when the job's
   * cancellation has come in and the workflow has not been told yet (telling it there).
   */
  readonly cancelled: (stepId: number) => Error | undefined;
}

/**
 * Runs one attempt of a step: `run` calls the step function. It may run it, throw instead (the
 * attempt fails with that error), or do something before or after; the test kit uses it to fail
 * chosen attempts and to see when step code is running.
 */
export type AroundAttempt = (info: StepInfo, run: () => unknown) => unknown;

/** A step's breaker and what to do while it is open. */
export interface StepGuard {
  readonly breaker: Breaker;
  readonly onOpen: 'park' | 'fail';
}

/** What a step's attempts run under, recorded with its first attempt. */
export interface StepSettings {
  readonly policy: ResolvedRetryPolicy;
  readonly timeoutMs: number | undefined;
  readonly heartbeatTimeoutMs: number | undefined;
  /** When the first attempt started: the policy's deadline counts from there. */
  readonly firstStartedAt: number;
  readonly guard?: StepGuard;
}

/** How one attempt of a step ended. */
type AttemptResult<T> = { ok: true; output: T } | { ok: false; failure: Failure; heartbeat?: unknown };

/**
 * Runs a step's attempts for real once the run has matched it against the journal: each attempt
 * under its timeout, failures through the retry policy, short retry waits in process.
 */
export class StepRunner {
  readonly #o: StepRunnerOptions;

  constructor(options: StepRunnerOptions) {
    this.#o = options;
  }

  /**
   * Runs attempts from `first` on (its StepStarted is durable) until success or give-up. A retry
   * wait too long for the worker throws `PARK`: the job waits for its durable timer.
   */
  async attempts<T>(
    stepId: number,
    name: string,
    settings: StepSettings,
    first: number,
    fn: (info: StepInfo) => T | Promise<T>,
    lastHeartbeat?: unknown,
  ): Promise<T> {
    const { appends } = this.#o;
    const { policy, firstStartedAt } = settings;
    let previous = lastHeartbeat;
    for (let attempt = first; ; ) {
      const result = await this.#runAttempt(stepId, name, attempt, settings, fn, previous);
      if (this.#o.stopped()) return parked();
      const now = this.#o.clock();
      if (result.ok) {
        appends.push({ type: 'StepCompleted', stepId, attempt, output: result.output, completedAt: now });
        void appends.sync().catch(() => {});
        return result.output;
      }
      const { failure } = result;
      if (result.heartbeat !== undefined) previous = result.heartbeat;
      const beat = result.heartbeat === undefined ? {} : { heartbeat: result.heartbeat };
      const decision = decideRetry(policy, { jobId: this.#o.jobId, stepId, attempt, failedAt: now, failure, firstStartedAt });
      if (!decision.retry) {
        appends.push({ type: 'StepFailed', stepId, attempt, failure, failedAt: now, final: true, reason: decision.reason, ...beat });
        void appends.sync().catch(() => {});
        throw new StepFailedError(name, attempt, decision.reason, fromFailure(failure));
      }
      appends.push({ type: 'StepFailed', stepId, attempt, failure, failedAt: now, final: false, ...beat });
      // A cancellation heard of during the attempt (with the append that started it) ends the
      // step here: another attempt would be work the job no longer wants.
      const cancelled = this.#o.cancelled(stepId);
      if (cancelled) throw cancelled;
      const durable = decision.at - now > this.#o.maxInProcessWaitMs;
      appends.push({ type: 'StepRetryScheduled', stepId, attempt: decision.attempt, at: decision.at, durable });
      if (durable) throw PARK;
      void appends.sync().catch(() => {});
      await this.waitUntil(decision.at);
      if (this.#o.stopped()) return parked();
      // Or one that came in during the wait, with another append of the run.
      const cancelledWaiting = this.#o.cancelled(stepId);
      if (cancelledWaiting) throw cancelledWaiting;
      attempt = decision.attempt;
      await this.begin(stepId, name, attempt, settings.guard);
      if (this.#o.stopped()) return parked();
    }
  }

  /**
   * Starts `attempt`: durably, and — for a guarded step — only once its breaker admits it. While
   * the breaker is open the attempt is not spent: the step is recorded as blocked, then parks
   * (throws PARK) or fails at once with CircuitOpenError, as its guard says. `first` records the
   * step's settings with its first attempt (or its first block).
   */
  async begin(
    stepId: number,
    name: string,
    attempt: number,
    guard: StepGuard | undefined,
    first?: Omit<StepSettings, 'firstStartedAt'>,
  ): Promise<number> {
    const { appends } = this.#o;
    let admission: { admitted: boolean; probe: boolean; retryAt?: number } | undefined;
    if (guard) {
      admission = await this.#o.engine.send({ type: 'AcquireBreaker', name: guard.breaker.name, policy: guard.breaker.policy });
      if (this.#o.stopped()) return parked();
      if (!admission.admitted) {
        const until = admission.retryAt ?? this.#o.clock();
        appends.push({
          type: 'StepBlocked',
          stepId,
          name,
          attempt,
          breaker: guard.breaker.name,
          until,
          fail: guard.onOpen === 'fail',
          blockedAt: this.#o.clock(),
          ...(first ? settingsFields(first) : {}),
        });
        if (guard.onOpen === 'fail') {
          void appends.sync().catch(() => {});
          throw new CircuitOpenError(`breaker "${guard.breaker.name}" is open until ${new Date(until).toISOString()}`);
        }
        throw PARK;
      }
    }
    const started = this.started(
      stepId,
      name,
      attempt,
      first,
      guard && admission ? { breaker: guard.breaker.name, probe: admission.probe } : undefined,
    );
    appends.push(started);
    await appends.sync();
    return (started as { startedAt: number }).startedAt;
  }

  /** The start of an attempt; the first attempt's start also records the step's policy and timeout. */
  started(
    stepId: number,
    name: string,
    attempt: number,
    first?: Omit<StepSettings, 'firstStartedAt'>,
    admitted?: { breaker: string; probe: boolean },
  ): JobEvent {
    return {
      type: 'StepStarted',
      stepId,
      name,
      attempt,
      startedAt: this.#o.clock(),
      worker: this.#o.worker,
      epoch: this.#o.epoch,
      ...(first === undefined ? {} : settingsFields(first)),
      ...(admitted === undefined ? {} : admitted),
    };
  }

  /** Resolves at `at`; never, if the run ends first. */
  waitUntil(at: number): Promise<void> {
    if (at - this.#o.clock() <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const { signal, timers, clock } = this.#o;
      let timer: unknown;
      const onAbort = () => timers.clearTimeout(timer);
      // A timer may fire a millisecond before the clock reaches `at` (the event loop's notion of
      // now lags the wall clock): an attempt must never start before its recorded instant.
      const arm = () => {
        const left = at - clock();
        if (left > 0) {
          timer = timers.setTimeout(arm, left);
          return;
        }
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      arm();
    });
  }

  async #runAttempt<T>(
    stepId: number,
    name: string,
    attempt: number,
    settings: StepSettings,
    fn: (info: StepInfo) => T | Promise<T>,
    lastHeartbeat: unknown,
  ): Promise<AttemptResult<T>> {
    const { jobId, signal: runSignal, timers, aroundAttempt } = this.#o;
    const { timeoutMs, heartbeatTimeoutMs, policy, firstStartedAt } = settings;
    // The step's deadline (schedule-to-close) bounds the attempt running when it comes, not only
    // the retries after it: an attempt that hangs must not keep the step past it.
    const deadlineLeftMs = policy.deadlineMs === undefined ? undefined : firstStartedAt + policy.deadlineMs - this.#o.clock();
    const byDeadline = deadlineLeftMs !== undefined && (timeoutMs === undefined || deadlineLeftMs < timeoutMs);
    const controller = new AbortController();
    const onRunAbort = () => controller.abort(new Error('the run was aborted'));
    runSignal.addEventListener('abort', onRunAbort, { once: true });
    let timer: unknown;
    let heartbeat: unknown;
    let giveUp!: (error: Error) => void;
    const abandoned = new Promise<never>((_, reject) => {
      giveUp = (error) => {
        controller.abort(error);
        reject(error);
      };
    });
    /** The details of the latest heartbeat that carried any; recorded if the attempt fails. */
    let details: unknown;
    const beat = (sent?: unknown) => {
      if (controller.signal.aborted) return;
      if (sent !== undefined) {
        // Checked here, where the step function can see the error, not when the attempt fails.
        assertStorable(sent, `heartbeat details of step "${name}"`);
        details = sent;
      }
      if (heartbeatTimeoutMs === undefined) return;
      timers.clearTimeout(heartbeat);
      heartbeat = timers.setTimeout(
        () => giveUp(new StepHeartbeatError(`attempt ${attempt} of step "${name}" sent no heartbeat for ${heartbeatTimeoutMs} ms`)),
        heartbeatTimeoutMs,
      );
    };
    const info: StepInfo = {
      jobId,
      stepId,
      name,
      attempt,
      idempotencyKey: `${jobId}:${stepId}`,
      signal: controller.signal,
      heartbeat: beat,
      ...(lastHeartbeat === undefined ? {} : { lastHeartbeat }),
    };
    try {
      if (byDeadline) {
        timer = timers.setTimeout(
          () =>
            giveUp(
              new StepTimeoutError(`attempt ${attempt} of step "${name}" was cut off at the step's deadline of ${policy.deadlineMs} ms`),
            ),
          Math.max(0, deadlineLeftMs),
        );
      } else if (timeoutMs !== undefined) {
        timer = timers.setTimeout(
          () => giveUp(new StepTimeoutError(`attempt ${attempt} of step "${name}" timed out after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }
      beat();
      const work = Promise.resolve().then(aroundAttempt ? () => aroundAttempt(info, () => fn(info)) as T | Promise<T> : () => fn(info));
      const output = timer === undefined && heartbeatTimeoutMs === undefined ? await work : await Promise.race([work, abandoned]);
      try {
        assertStorable(output, `output of step "${name}"`);
      } catch (error) {
        return { ok: false, failure: { ...toFailure(error), nonRetryable: true } };
      }
      return { ok: true, output };
    } catch (error) {
      return { ok: false, failure: toFailure(error), ...(details === undefined ? {} : { heartbeat: details }) };
    } finally {
      if (timer !== undefined) timers.clearTimeout(timer);
      if (heartbeat !== undefined) timers.clearTimeout(heartbeat);
      abandoned.catch(() => {});
      runSignal.removeEventListener('abort', onRunAbort);
    }
  }
}

/** The fields a step's first StepStarted (or StepBlocked) records. */
function settingsFields(first: Omit<StepSettings, 'firstStartedAt'>) {
  return {
    policy: first.policy,
    ...(first.timeoutMs === undefined ? {} : { timeoutMs: first.timeoutMs }),
    ...(first.heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs: first.heartbeatTimeoutMs }),
  };
}
