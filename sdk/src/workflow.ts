import { type Duration, MAX_TIME_MS, toMs, WORKFLOW_NAME } from '@ratchet/protocol';
import type { WorkflowContext } from './workflow-context.ts';

/** A workflow: a named, versioned function `(ctx, input) => output` whose every durable call is logged. */
export interface Workflow<I = unknown, O = unknown> {
  readonly name: string;
  /** Recorded on every job it starts. @default '1' */
  readonly version: string;
  /** A job of this workflow fails with WorkflowTimeoutError if not finished this long after its start. */
  readonly timeoutMs?: number;
  readonly run: (ctx: WorkflowContext, input: I) => Promise<O>;
}

/** Raised at definition time for a workflow that cannot work. */
export class InvalidWorkflowError extends Error {
  override readonly name = 'InvalidWorkflowError';
}

/**
 * Defines a workflow. Its code must be deterministic: everything that touches the outside world
 * goes through `ctx` (`ctx.step`, `ctx.sleep`, `ctx.now`, `ctx.random`, `ctx.uuid`).
 *
 * @example
 * export const greet = defineWorkflow('greet', async (ctx, name: string) => {
 *   const greeting = await ctx.step('compose', () => `Hello, ${name}`);
 *   await ctx.sleep('1s');
 *   return ctx.step('send', () => send(greeting));
 * });
 */
export function defineWorkflow<I, O>(
  name: string,
  run: (ctx: WorkflowContext, input: I) => Promise<O>,
  options: {
    readonly version?: string;
    /** Execution timeout of each job: whole milliseconds, at least 1 (else InvalidWorkflowError). */
    readonly timeout?: Duration;
  } = {},
): Workflow<I, O> {
  if (typeof name !== 'string' || !WORKFLOW_NAME.test(name)) {
    throw new InvalidWorkflowError(`workflow name ${JSON.stringify(name)} must be 1-128 letters, digits, . _ or -`);
  }
  if (typeof run !== 'function') throw new InvalidWorkflowError(`workflow "${name}" needs a function (ctx, input) => output`);
  const version = options.version ?? '1';
  if (typeof version !== 'string' || version.length === 0 || version.includes('\0')) {
    throw new InvalidWorkflowError(`workflow "${name}" version must be a non-empty string`);
  }
  let timeoutMs: number | undefined;
  try {
    timeoutMs = options.timeout === undefined ? undefined : jobTimeoutMs(options.timeout, `timeout of workflow "${name}"`);
  } catch (error) {
    throw new InvalidWorkflowError((error as Error).message, { cause: error });
  }
  return Object.freeze({ name, version, run, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
}

/**
 * `timeout` in milliseconds, checked as a job's execution timeout: whole milliseconds (the log
 * records the deadline as a whole time), at least 1 (0 would fail every job at once) and no more
 * than the latest time the log holds. Throws a RangeError naming `label` otherwise.
 */
export function jobTimeoutMs(timeout: Duration, label: string): number {
  const ms = toMs(timeout, label);
  if (!Number.isInteger(ms) || ms < 1 || ms > MAX_TIME_MS) {
    throw new RangeError(`${label} must be a whole number of milliseconds from 1 to ${MAX_TIME_MS}, got ${ms}`);
  }
  return ms;
}
