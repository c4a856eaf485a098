import { type Duration, toMs } from './duration.ts';

/**
 * When a shared circuit breaker opens and how it recovers. Give `failureThreshold` (consecutive
 * failures), `failureRate`, or both.
 *
 * @example
 * defineBreaker('payments', { failureThreshold: 5, cooldown: '30s', halfOpenProbes: 2, successesToClose: 2 })
 */
export interface BreakerPolicy {
  /** Open after this many failures in a row. */
  readonly failureThreshold?: number;
  /** Open when failures over `window` exceed `threshold` (above 0, below 1) of at least `minimumCalls` calls. */
  readonly failureRate?: { readonly threshold: number; readonly minimumCalls: number; readonly window: Duration };
  /** Time open before calls are tried again (half-open). */
  readonly cooldown: Duration;
  /** Calls let through at once while half-open, across all workers. @default 1 */
  readonly halfOpenProbes?: number;
  /** Successful probes that close the breaker again. @default 1 */
  readonly successesToClose?: number;
}

export interface ResolvedBreakerPolicy {
  readonly failureThreshold?: number;
  readonly failureRate?: { readonly threshold: number; readonly minimumCalls: number; readonly windowMs: number };
  readonly cooldownMs: number;
  readonly halfOpenProbes: number;
  readonly successesToClose: number;
}

/** A breaker policy that makes no sense; the message names the field. */
export class InvalidBreakerPolicyError extends Error {
  override readonly name = 'InvalidBreakerPolicyError';
}

const BREAKER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Why `name` cannot name a breaker, or undefined when it can: 1-128 letters, digits and `._-`,
 * starting with a letter or digit (`defineBreaker` and an operator's trip hold names to it alike).
 */
export function breakerNameProblem(name: unknown): string | undefined {
  return typeof name === 'string' && BREAKER_NAME.test(name)
    ? undefined
    : `breaker name ${JSON.stringify(typeof name === 'string' ? name.slice(0, 60) : name)} must be 1-128 letters, digits, . _ or - starting with a letter or digit`;
}

/** Validates a breaker policy and applies its defaults. */
export function resolveBreakerPolicy(name: string, policy: BreakerPolicy): ResolvedBreakerPolicy {
  const fail = (message: string): never => {
    throw new InvalidBreakerPolicyError(`invalid policy for breaker "${name}": ${message}`);
  };
  const count = (value: unknown, field: string, min: number): number => {
    if (!Number.isSafeInteger(value) || (value as number) < min) fail(`${field} must be an integer >= ${min}, got ${String(value)}`);
    return value as number;
  };
  const ms = (value: Duration, field: string): number => {
    try {
      return toMs(value, field);
    } catch (error) {
      return fail((error as Error).message);
    }
  };
  if (typeof policy !== 'object' || policy === null) return fail('a policy object is needed');
  if (policy.failureThreshold === undefined && policy.failureRate === undefined) fail('give failureThreshold, failureRate or both');
  const failureThreshold = policy.failureThreshold === undefined ? undefined : count(policy.failureThreshold, 'failureThreshold', 1);
  let failureRate: ResolvedBreakerPolicy['failureRate'];
  if (policy.failureRate !== undefined) {
    const { threshold, minimumCalls, window } = policy.failureRate;
    // The breaker opens when the share of failures is over the threshold: at 1 it never would.
    if (typeof threshold !== 'number' || !(threshold > 0 && threshold < 1))
      fail(`failureRate.threshold must be above 0 and below 1 (the share of failures it opens past), got ${String(threshold)}`);
    failureRate = {
      threshold,
      minimumCalls: count(minimumCalls, 'failureRate.minimumCalls', 1),
      windowMs: ms(window, 'failureRate.window'),
    };
    if (failureRate.windowMs <= 0) fail('failureRate.window must be longer than 0');
  }
  if (policy.cooldown === undefined) fail('cooldown is required');
  const cooldownMs = ms(policy.cooldown, 'cooldown');
  return {
    ...(failureThreshold === undefined ? {} : { failureThreshold }),
    ...(failureRate === undefined ? {} : { failureRate }),
    cooldownMs,
    halfOpenProbes: count(policy.halfOpenProbes ?? 1, 'halfOpenProbes', 1),
    successesToClose: count(policy.successesToClose ?? 1, 'successesToClose', 1),
  };
}
