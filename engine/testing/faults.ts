/**
 * Faults a test declares for its environment, as data. Each names what it does to which job
 * (every job when `jobId` is left out); `TestEnvironment.injectedFaults` records each time one
 * took effect.
 */
export type Fault = CrashAfterStep | DeliverTwice | FailAttempt;

/**
 * The worker holding the job dies abruptly once the completion of `step` is in the log: its
 * connection is cut (whatever it sends after is lost), and a fresh worker takes the job over
 * (`JobClaimed`). Attempts the dead worker had open are recorded lost and retried; completed
 * steps are not run again. Takes effect once.
 */
export interface CrashAfterStep {
  readonly kind: 'crash-after-step';
  readonly step: string;
  readonly jobId?: string;
}

/**
 * Each of the next `times` tasks (`AdvanceJob`) is published a second time, under another
 * message id, once a worker has acknowledged the first: the same task delivered twice, as a
 * republish outside the queue's duplicate window would. Nothing may be done twice.
 */
export interface DeliverTwice {
  readonly kind: 'deliver-twice';
  /** @default 1 */
  readonly times?: number;
  readonly jobId?: string;
}

/**
 * Attempt `attempt` of `step` throws `error` instead of running the step function, so retries
 * (and what follows giving up) run without flaky step code. Applies to every matching job.
 */
export interface FailAttempt {
  readonly kind: 'fail-attempt';
  readonly step: string;
  readonly attempt: number;
  /** @default an `Error` naming the step and attempt */
  readonly error?: Error;
  readonly jobId?: string;
}

/** A fault that took effect: which, on which job, at what (virtual) time, and what it did. */
export interface InjectedFault {
  readonly fault: Fault;
  readonly jobId: string;
  readonly at: number;
  readonly detail: string;
}

/**
 * Crash the worker holding a job once `step` has completed (see {@link CrashAfterStep}).
 *
 * @example
 * const env = await TestEnvironment.create({ workflows: [order], faults: [crashAfterStep('charge')] });
 */
export function crashAfterStep(step: string, options: { readonly jobId?: string } = {}): CrashAfterStep {
  return { kind: 'crash-after-step', step: stepName(step, 'crashAfterStep'), ...scope(options.jobId) };
}

/** Deliver the next task (or `times` tasks) twice (see {@link DeliverTwice}). */
export function deliverTwice(options: { readonly times?: number; readonly jobId?: string } = {}): DeliverTwice {
  const times = options.times ?? 1;
  if (!Number.isInteger(times) || times < 1) throw new RangeError(`deliverTwice: times must be a positive integer, got ${times}`);
  return { kind: 'deliver-twice', times, ...scope(options.jobId) };
}

/** Make attempt `attempt` of `step` throw (see {@link FailAttempt}). */
export function failAttempt(step: string, attempt: number, options: { readonly error?: Error; readonly jobId?: string } = {}): FailAttempt {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`failAttempt: attempt must be a positive integer (1 is the first), got ${attempt}`);
  }
  if (options.error !== undefined && !(options.error instanceof Error)) throw new TypeError('failAttempt: error must be an Error');
  return {
    kind: 'fail-attempt',
    step: stepName(step, 'failAttempt'),
    attempt,
    ...(options.error ? { error: options.error } : {}),
    ...scope(options.jobId),
  };
}

/** Checks a fault given as data (not through the functions above). */
export function checkedFault(fault: Fault): Fault {
  switch (fault?.kind) {
    case 'crash-after-step':
      return crashAfterStep(fault.step, fault);
    case 'deliver-twice':
      return deliverTwice(fault);
    case 'fail-attempt':
      return failAttempt(fault.step, fault.attempt, fault);
    default:
      throw new TypeError(
        `unknown fault ${JSON.stringify((fault as { kind?: unknown })?.kind)}; expected crash-after-step, deliver-twice or fail-attempt`,
      );
  }
}

function stepName(step: string, what: string): string {
  if (typeof step !== 'string' || step.length === 0) throw new TypeError(`${what}: the step needs a non-empty name`);
  return step;
}

function scope(jobId: string | undefined): { jobId?: string } {
  if (jobId === undefined) return {};
  if (typeof jobId !== 'string' || jobId.length === 0) throw new TypeError('a fault scoped to a job needs a non-empty jobId');
  return { jobId };
}
