import {
  assertStorable,
  decideRetry,
  type Failure,
  fromFailure,
  type JobEvent,
  type ResolvedRetryPolicy,
  toFailure,
} from '@ratchet/protocol';
import { StepFailedError, StepHeartbeatError, type StepInfo, StepTimeoutError } from '@ratchet/sdk';
import type { AppendQueue } from './append-queue.ts';
import { PARK, parked } from './park.ts';

export interface StepRunnerOptions {
  readonly jobId: string;
  readonly worker: string;
  /** The epoch the run holds, recorded on every attempt it starts. */
  readonly epoch: number;
  readonly clock: () => number;
  /** Retry waits up to this long are waited out in the worker; longer ones go through durable timers. */
  readonly maxInProcessWaitMs: number;
  readonly appends: AppendQueue;
  /** Aborted when the run ends: attempts in flight are aborted, and retry waits cut short. */
  readonly signal: AbortSignal;
  /** True once the run must do nothing more. */
  readonly stopped: () => boolean;
}

/** What a step's attempts run under, recorded with its first attempt. */
export interface StepSettings {
  readonly policy: ResolvedRetryPolicy;
  readonly timeoutMs: number | undefined;
  readonly heartbeatTimeoutMs: number | undefined;
  /** When the first attempt started: the policy's deadline counts from there. */
  readonly firstStartedAt: number;
}

/** How one attempt of a step ended. */
type AttemptResult<T> = { ok: true; output: T } | { ok: false; failure: Failure };

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
  ): Promise<T> {
    const { appends } = this.#o;
    const { policy, firstStartedAt } = settings;
    for (let attempt = first; ; ) {
      const result = await this.#runAttempt(stepId, name, attempt, settings, fn);
      if (this.#o.stopped()) return parked();
      const now = this.#o.clock();
      if (result.ok) {
        appends.push({ type: 'StepCompleted', stepId, attempt, output: result.output, completedAt: now });
        void appends.sync().catch(() => {});
        return result.output;
      }
      const { failure } = result;
      const decision = decideRetry(policy, { jobId: this.#o.jobId, stepId, attempt, failedAt: now, failure, firstStartedAt });
      if (!decision.retry) {
        appends.push({ type: 'StepFailed', stepId, attempt, failure, failedAt: now, final: true, reason: decision.reason });
        void appends.sync().catch(() => {});
        throw new StepFailedError(name, attempt, decision.reason, fromFailure(failure));
      }
      const durable = decision.at - now > this.#o.maxInProcessWaitMs;
      appends.push(
        { type: 'StepFailed', stepId, attempt, failure, failedAt: now, final: false },
        { type: 'StepRetryScheduled', stepId, attempt: decision.attempt, at: decision.at, durable },
      );
      if (durable) throw PARK;
      void appends.sync().catch(() => {});
      await this.waitUntil(decision.at);
      if (this.#o.stopped()) return parked();
      attempt = decision.attempt;
      appends.push(this.started(stepId, name, attempt));
      await appends.sync();
      if (this.#o.stopped()) return parked();
    }
  }

  /** The start of an attempt; the first attempt's start also records the step's policy and timeout. */
  started(stepId: number, name: string, attempt: number, first?: Omit<StepSettings, 'firstStartedAt'>): JobEvent {
    const started = {
      type: 'StepStarted',
      stepId,
      name,
      attempt,
      startedAt: this.#o.clock(),
      worker: this.#o.worker,
      epoch: this.#o.epoch,
    } as const;
    if (first === undefined) return started;
    return {
      ...started,
      policy: first.policy,
      ...(first.timeoutMs === undefined ? {} : { timeoutMs: first.timeoutMs }),
      ...(first.heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs: first.heartbeatTimeoutMs }),
    };
  }

  /** Resolves at `at`; never, if the run ends first. */
  waitUntil(at: number): Promise<void> {
    const delay = at - this.#o.clock();
    if (delay <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const signal = this.#o.signal;
      const onAbort = () => clearTimeout(timer);
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, delay);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async #runAttempt<T>(
    stepId: number,
    name: string,
    attempt: number,
    settings: StepSettings,
    fn: (info: StepInfo) => T | Promise<T>,
  ): Promise<AttemptResult<T>> {
    const { jobId, signal: runSignal } = this.#o;
    const { timeoutMs, heartbeatTimeoutMs } = settings;
    const controller = new AbortController();
    const onRunAbort = () => controller.abort(new Error('the run was aborted'));
    runSignal.addEventListener('abort', onRunAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    let giveUp!: (error: Error) => void;
    const abandoned = new Promise<never>((_, reject) => {
      giveUp = (error) => {
        controller.abort(error);
        reject(error);
      };
    });
    const beat = () => {
      if (heartbeatTimeoutMs === undefined || controller.signal.aborted) return;
      clearTimeout(heartbeat);
      heartbeat = setTimeout(
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
    };
    try {
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => giveUp(new StepTimeoutError(`attempt ${attempt} of step "${name}" timed out after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }
      beat();
      const work = Promise.resolve().then(() => fn(info));
      const output = timeoutMs === undefined && heartbeatTimeoutMs === undefined ? await work : await Promise.race([work, abandoned]);
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
      clearTimeout(heartbeat);
      abandoned.catch(() => {});
      runSignal.removeEventListener('abort', onRunAbort);
    }
  }
}
