import { assertNever } from './assert-never.ts';
import type { Failure } from './failure.ts';
import type { ResolvedRetryPolicy } from './retry-policy.ts';

/** What failed, and when: everything the retry decision depends on, all of it in the log. */
export interface FailedAttempt {
  readonly jobId: string;
  readonly stepId: number;
  readonly attempt: number;
  readonly failedAt: number;
  readonly failure: Failure;
  /** When the step's first attempt started: the policy's deadline counts from there. */
  readonly firstStartedAt?: number;
}

/** The next attempt and its absolute time, or the reason there is none. */
export type RetryDecision =
  | { readonly retry: true; readonly attempt: number; readonly at: number }
  | { readonly retry: false; readonly reason: string };

/**
 * Decides whether a failed attempt is retried and at which instant. Pure: the same log gives the
 * same answer on any worker at any time, so a resumed job waits exactly what remains.
 */
export function decideRetry(policy: ResolvedRetryPolicy, failed: FailedAttempt): RetryDecision {
  const { failure, attempt } = failed;
  if (failure.nonRetryable) return { retry: false, reason: `${failure.name} is not retryable` };
  if (policy.nonRetryable.includes(failure.name)) {
    return { retry: false, reason: `${failure.name} is listed in the policy as not retryable` };
  }
  const rule = policy.rules?.find((r) => r.errors.includes(failure.name));
  if (rule && !rule.retry) return { retry: false, reason: `${failure.name} is not retried by the policy's rules` };
  const effective: ResolvedRetryPolicy = rule ? { ...policy, ...rule } : policy;
  if (attempt >= effective.maximumAttempts) {
    return { retry: false, reason: `all ${effective.maximumAttempts} attempts failed` };
  }
  const delay = failure.retryAfterMs ?? backoffDelay(effective, failed);
  const at = failed.failedAt + Math.round(delay);
  if (policy.deadlineMs !== undefined && failed.firstStartedAt !== undefined && at > failed.firstStartedAt + policy.deadlineMs) {
    return { retry: false, reason: `the step's deadline of ${policy.deadlineMs} ms would pass before attempt ${attempt + 1}` };
  }
  return { retry: true, attempt: attempt + 1, at };
}

/** The delay after `attempt` fails: exponential, capped, then jittered by a seeded random. */
export function backoffDelay(policy: ResolvedRetryPolicy, failed: Pick<FailedAttempt, 'jobId' | 'stepId' | 'attempt'>): number {
  const base = Math.min(policy.initialIntervalMs * policy.backoffCoefficient ** (failed.attempt - 1), policy.maximumIntervalMs);
  switch (policy.jitter) {
    case 'none':
      return base;
    case 'full':
      return base * seededRandom(`${failed.jobId}/${failed.stepId}/${failed.attempt}`);
    case 'equal':
      return base / 2 + (base / 2) * seededRandom(`${failed.jobId}/${failed.stepId}/${failed.attempt}`);
    default:
      return assertNever(policy.jitter, 'jitter');
  }
}

/** A number in [0, 1) fixed by `seed` (FNV-1a, then a murmur3 finaliser to spread the bits). */
export function seededRandom(seed: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}
