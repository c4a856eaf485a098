import { monotonicFactory } from 'ulid';

/** Makes sortable, unique job ids (ULIDs). Inject one per process; tests may pass their own. */
export type IdFactory = () => string;

/** A ULID factory that stays monotonic within one millisecond. */
export function createIdFactory(now: () => number = Date.now): IdFactory {
  const next = monotonicFactory();
  return () => next(now());
}

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/**
 * Returns why `jobId` is not acceptable, or undefined when it is. Callers may choose their own
 * ids (for idempotent starts); they must be 1–200 characters of letters, digits and `._:-`, so
 * they can travel in NATS subjects and URLs unescaped.
 */
export function jobIdProblem(jobId: unknown): string | undefined {
  if (typeof jobId !== 'string') return `jobId must be a string, got ${typeof jobId}`;
  if (!JOB_ID.test(jobId)) {
    return `jobId "${jobId.slice(0, 60)}" must be 1-200 characters of letters, digits and ._:- starting with a letter or digit`;
  }
  return undefined;
}
