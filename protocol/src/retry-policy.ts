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
  /**
   * Rules by error name, the first that names the error applies: `retry: false` makes those
   * errors final; the other fields replace the policy's for them.
   * @example [{ errors: ['RateLimitedError'], initialInterval: '5s', maximumAttempts: 10 }]
   */
  readonly rules?: readonly RetryRule[];
  /**
   * Time the step may take from its first attempt's start, retries included (schedule-to-close):
   * no retry starts after it, and an attempt still running at it is cut off (`StepTimeoutError`).
   */
  readonly deadline?: Duration;
}

/** How errors of the names listed are retried. */
export interface RetryRule {
  readonly errors: readonly string[];
  /** @default true */
  readonly retry?: boolean;
  readonly initialInterval?: Duration;
  readonly backoffCoefficient?: number;
  readonly maximumInterval?: Duration;
  readonly maximumAttempts?: number;
}

/** A {@link RetryRule} resolved: the full policy for its errors, or none when they are final. */
export interface ResolvedRetryRule {
  readonly errors: readonly string[];
  readonly retry: boolean;
  readonly initialIntervalMs: number;
  readonly backoffCoefficient: number;
  readonly maximumIntervalMs: number;
  readonly maximumAttempts: number;
}

/** A {@link RetryPolicy} with every default applied and durations in ms: what the log records. */
export interface ResolvedRetryPolicy {
  readonly initialIntervalMs: number;
  readonly backoffCoefficient: number;
  readonly maximumIntervalMs: number;
  readonly maximumAttempts: number;
  readonly jitter: Jitter;
  readonly nonRetryable: readonly string[];
  /** Absent in logs written before rules existed. */
  readonly rules?: readonly ResolvedRetryRule[];
  readonly deadlineMs?: number;
}

/** Raised at definition time for a policy that makes no sense; the message names the field. */
export class InvalidRetryPolicyError extends Error {
  override readonly name = 'InvalidRetryPolicyError';
}

const JITTERS: readonly Jitter[] = ['none', 'full', 'equal'];

/** Validates `policy` and applies the defaults. Throws {@link InvalidRetryPolicyError}. */
export function resolveRetryPolicy(policy?: RetryPolicy): ResolvedRetryPolicy {
  // Most steps give no policy, and every replayed or run `ctx.step` resolves its own: the
  // defaults are resolved once (frozen, as they are shared).
  if (policy === undefined) return DEFAULT_POLICY;
  return resolve(policy);
}

function resolve(policy: RetryPolicy): ResolvedRetryPolicy {
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
  const base = { initialIntervalMs, backoffCoefficient, maximumIntervalMs, maximumAttempts, jitter, nonRetryable };
  const rules = (policy.rules ?? []).map((rule, i): ResolvedRetryRule => {
    if (!rule || !Array.isArray(rule.errors) || rule.errors.length === 0 || rule.errors.some((n) => typeof n !== 'string')) {
      fail(`rules[${i}].errors must be a non-empty array of error names`);
    }
    // A rule is a policy of its own for its errors, starting from this one.
    const resolved = resolve({
      initialInterval: rule.initialInterval ?? initialIntervalMs,
      backoffCoefficient: rule.backoffCoefficient ?? backoffCoefficient,
      // As for the policy itself, a rule's own interval caps at 100 times its start.
      maximumInterval:
        rule.maximumInterval ?? (rule.initialInterval === undefined ? maximumIntervalMs : toMsOr(rule.initialInterval, 0) * 100),
      maximumAttempts: rule.maximumAttempts ?? maximumAttempts,
    });
    return {
      errors: [...rule.errors],
      retry: rule.retry ?? true,
      initialIntervalMs: resolved.initialIntervalMs,
      backoffCoefficient: resolved.backoffCoefficient,
      maximumIntervalMs: resolved.maximumIntervalMs,
      maximumAttempts: resolved.maximumAttempts,
    };
  });
  const deadlineMs = policy.deadline === undefined ? undefined : ms(policy.deadline, 'deadline');
  return { ...base, ...(rules.length > 0 ? { rules } : {}), ...(deadlineMs === undefined ? {} : { deadlineMs }) };
}

const DEFAULT_POLICY: ResolvedRetryPolicy = (() => {
  const policy = resolve({});
  Object.freeze(policy.nonRetryable);
  return Object.freeze(policy);
})();

function toMsOr(duration: Duration | undefined, fallback: number): number {
  try {
    return duration === undefined ? fallback : toMs(duration);
  } catch {
    return fallback;
  }
}
