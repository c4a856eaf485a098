import type { Duration, RetryPolicy } from '@ratchet/protocol';
import type { Breaker } from './breaker.ts';
import type { Workflow } from './workflow.ts';

/**
 * Everything durable a workflow does goes through its context. Calls are matched, in order,
 * against the job's log: a recorded call returns its recorded result without running again.
 */
export interface WorkflowContext {
  readonly jobId: string;
  readonly workflow: string;
  /**
   * Runs `fn` as a step: at least once until it succeeds, with retries by `options.retry`.
   * Its result is recorded, so on replay it is returned without running `fn` again. The result
   * must be plain data (objects, arrays, primitives, Date, Uint8Array).
   */
  step<T>(name: string, fn: (info: StepInfo) => T | Promise<T>, options?: StepOptions): Promise<T>;
  /** A durable sleep: the job is released and resumed by the engine at the recorded instant. */
  sleep(duration: Duration): Promise<void>;
  /** A durable sleep until an absolute time (ms since the epoch, or a Date). */
  waitUntil(time: number | Date): Promise<void>;
  /**
   * Waits for the next signal named `name` (`client.signal(jobId, name, payload)`). Signals that
   * arrived earlier wait in the job's inbox, in order, and are taken first. With `timeout`, the
   * wait ends with `{ timedOut: true }` when no signal came in time.
   */
  waitForSignal<T = unknown>(name: string, options?: { readonly timeout?: Duration }): Promise<SignalResult<T>>;
  /**
   * Versioning a running job's code: true where the job runs code that has the change `id`, false
   * when replaying a job that got to this point on code without it. Branch on it to keep old jobs
   * on their old path:
   * @example
   * if (ctx.patched('charge-in-cents')) await ctx.step('charge', chargeCents); else await ctx.step('charge', chargeDollars);
   */
  patched(id: string): boolean;
  /**
   * Starts a child job — a job of its own, with its own history — and waits for its output; a
   * child that fails or is cancelled throws `ChildFailedError`. Cancelling this job cancels the
   * child too, and so does this job ending before it (a lost `Promise.race`, a timeout), unless
   * `cancelWithParent` is false.
   */
  child<I, O>(workflow: Workflow<I, O> | string, input: I, options?: ChildOptions): Promise<O>;
  /**
   * Ends this job and starts its successor — the same workflow with `input`, a job of its own —
   * in one transaction: how a long-lived job keeps its history short. Never returns;
   * `result()` of this job follows to the successor's. Signals this job received and did not
   * take are handed to the successor, in order.
   */
  continueAsNew(input: unknown): Promise<never>;
  /** The current time in ms, recorded the first time and replayed after. */
  now(): number;
  /** A random number in [0, 1), recorded. */
  random(): number;
  /** A random UUID, recorded. */
  uuid(): string;
  /** A logger that stays quiet while the workflow replays recorded history. */
  readonly log: WorkflowLogger;
}

export interface ChildOptions {
  /** The child's job id. @default `<parent jobId>.c<position>` */
  readonly jobId?: string;
  /** @default true */
  readonly cancelWithParent?: boolean;
}

/** How a wait for a signal ended. */
export type SignalResult<T> = { readonly timedOut: false; readonly payload: T } | { readonly timedOut: true };

export interface StepOptions {
  /** @default { maximumAttempts: 3, initialInterval: 1000, backoffCoefficient: 2 } */
  readonly retry?: RetryPolicy;
  /**
   * Each attempt is abandoned (and counted as failed) after this long: whole milliseconds from 1
   * to 2^31-1 (about 24.8 days), else a RangeError at the `ctx.step` call. @default none
   */
  readonly timeout?: Duration;
  /**
   * An attempt that goes this long without calling `info.heartbeat()` is abandoned and counted
   * as failed (`StepHeartbeatError`). The same range as `timeout`. @default none
   */
  readonly heartbeatTimeout?: Duration;
  /** Guards each attempt with a shared circuit breaker (a breaker, or the name of one the worker has). */
  readonly breaker?: Breaker | string;
  /**
   * While the breaker is open: `park` the step until it half-opens, spending no attempt, or
   * `fail` it at once with `CircuitOpenError` (so the workflow can take a fallback). @default 'park'
   */
  readonly onOpen?: 'park' | 'fail';
}

/** What a step function learns about the attempt it runs. */
export interface StepInfo {
  readonly jobId: string;
  readonly stepId: number;
  readonly name: string;
  readonly attempt: number;
  /** Stable across attempts and workers: pass it to external APIs to make the side effect idempotent. */
  readonly idempotencyKey: string;
  /** Aborted when the attempt times out or the worker shuts down. */
  readonly signal: AbortSignal;
  /**
   * The details the last failed attempt of this step sent with its last heartbeat, if it sent any
   * (recorded with its `StepFailed`): a long step resumes from its progress instead of starting
   * over. Absent after a worker crash, which records nothing.
   */
  readonly lastHeartbeat?: unknown;
  /**
   * Says the attempt is alive (see `heartbeatTimeout`). `details` (plain data, such as the last
   * item done) are kept and recorded if the attempt fails, for the next one (`lastHeartbeat`).
   */
  heartbeat(details?: unknown): void;
}

export interface WorkflowLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}
