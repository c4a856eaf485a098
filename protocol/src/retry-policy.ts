import { type Duration, toMs } from './duration.ts';

/** How the delay before the next attempt is randomised, seeded so replay computes the same instant. */
export type Jitter = 'none' | 'full' | 'equal';

/**
 * When a failed step attempt is tried again. Every field is optional; see the defaults.
 *
 * @example
 * ctx.step('charge', charge, { retry: { maximumAttempts: 5, initialInterval: '200ms', jitter: 'full' } })
 */
export interface RetryPolicy {
  /** Delay before attempt 2. @default 1000 ms */
  readonly initialInterval?: Duration;
  /** Each further delay is the previous one times this. @default 2 */
  readonly backoffCoefficient?: number;
  /** No delay is longer than this. @default 100 × initialInterval */
  readonly maximumInterval?: Duration;
  /** Attempts in all, the first included; 1 means no retry. @default 3 */
  readonly maximumAttempts?: number;
  /** @default 'none' */
  readonly jitter?: Jitter;
  /** Error names that are never retried (besides `NonRetryableError`). @default [] */
  readonly nonRetryable?: readonly string[];
}

/** A {@link RetryPolicy} with every default applied and durations in ms: what the log records. */
export interface ResolvedRetryPolicy {
  readonly initialIntervalMs: number;
  readonly backoffCoefficient: number;
  readonly maximumIntervalMs: number;
  readonly maximumAttempts: number;
  readonly jitter: Jitter;
  readonly nonRetryable: readonly string[];
}

/** Raised at definition time for a policy that makes no sense; the message names the field. */
export class InvalidRetryPolicyError extends Error {
  override readonly name = 'InvalidRetryPolicyError';
}

const JITTERS: readonly Jitter[] = ['none', 'full', 'equal'];

/** Validates `policy` and applies the defaults. Throws {@link InvalidRetryPolicyError}. */
export function resolveRetryPolicy(policy: RetryPolicy = {}): ResolvedRetryPolicy {
  const fail = (message: string): never => {
    throw new InvalidRetryPolicyError(`invalid retry policy: ${message}`);
  };
  const ms = (value: Duration, field: string): number => {
    try {
      return toMs(value, field);
    } catch (error) {
      return fail((error as Error).message);
    }
  };
  const initialIntervalMs = ms(policy.initialInterval ?? 1000, 'initialInterval');
  const backoffCoefficient = policy.backoffCoefficient ?? 2;
  if (!Number.isFinite(backoffCoefficient) || backoffCoefficient < 1) {
    fail(`backoffCoefficient must be a number >= 1, got ${backoffCoefficient}`);
  }
  const maximumIntervalMs = ms(policy.maximumInterval ?? initialIntervalMs * 100, 'maximumInterval');
  if (maximumIntervalMs < initialIntervalMs) {
    fail(`maximumInterval (${maximumIntervalMs} ms) is shorter than initialInterval (${initialIntervalMs} ms)`);
  }
  const maximumAttempts = policy.maximumAttempts ?? 3;
  if (!Number.isInteger(maximumAttempts) || maximumAttempts < 1) {
    fail(`maximumAttempts must be an integer >= 1, got ${maximumAttempts}`);
  }
  const jitter = policy.jitter ?? 'none';
  if (!JITTERS.includes(jitter)) fail(`jitter must be one of ${JITTERS.join(', ')}, got ${String(jitter)}`);
  const nonRetryable = policy.nonRetryable ?? [];
  if (!Array.isArray(nonRetryable) || nonRetryable.some((n) => typeof n !== 'string')) {
    fail('nonRetryable must be an array of error names');
  }
  return { initialIntervalMs, backoffCoefficient, maximumIntervalMs, maximumAttempts, jitter, nonRetryable };
}
