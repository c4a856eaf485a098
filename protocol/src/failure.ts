/**
 * An error as data: how failures cross processes and live in the log. `name` is the error's
 * class name and is what retry rules match on.
 */
export interface Failure {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** The step asked not to be retried (`NonRetryableError`). */
  readonly nonRetryable?: boolean;
  /** The step asked for its next attempt no sooner than this many ms after failing. */
  readonly retryAfterMs?: number;
  readonly cause?: Failure;
}

/** Converts anything thrown into a {@link Failure}. */
export function toFailure(error: unknown): Failure {
  if (error instanceof Error) {
    const e = error as Error & { nonRetryable?: unknown; retryAfterMs?: unknown };
    return {
      name: e.name,
      message: e.message,
      ...(e.stack === undefined ? {} : { stack: e.stack }),
      ...(e.nonRetryable === true ? { nonRetryable: true } : {}),
      ...(typeof e.retryAfterMs === 'number' ? { retryAfterMs: e.retryAfterMs } : {}),
      ...(e.cause === undefined ? {} : { cause: toFailure(e.cause) }),
    };
  }
  return { name: 'Error', message: typeof error === 'string' ? error : safeString(error) };
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Rebuilds an Error from a {@link Failure}, keeping its name, message and stack. */
export function fromFailure(failure: Failure): Error {
  const error = new Error(failure.message);
  error.name = failure.name;
  if (failure.stack !== undefined) error.stack = failure.stack;
  if (failure.cause !== undefined) error.cause = fromFailure(failure.cause);
  return error;
}
