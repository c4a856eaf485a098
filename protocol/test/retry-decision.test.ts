import { describe, expect, it } from 'vitest';
import { decideRetry, resolveRetryPolicy, seededRandom } from '../src/index.ts';

const failure = { name: 'Error', message: 'boom' };

describe('decideRetry', () => {
  it('backs off exponentially from the failure time, capped by the maximum interval', () => {
    const policy = resolveRetryPolicy({ initialInterval: 100, backoffCoefficient: 3, maximumInterval: 500, maximumAttempts: 10 });
    const at = (attempt: number) => decideRetry(policy, { jobId: 'j', stepId: 0, attempt, failedAt: 1000, failure });
    expect(at(1)).toEqual({ retry: true, attempt: 2, at: 1100 });
    expect(at(2)).toEqual({ retry: true, attempt: 3, at: 1300 });
    expect(at(3)).toEqual({ retry: true, attempt: 4, at: 1500 });
  });
});

describe('seededRandom', () => {
  it('is stable for a seed and spread over [0, 1)', () => {
    expect(seededRandom('a/1/2')).toBe(seededRandom('a/1/2'));
    const values = Array.from({ length: 1000 }, (_, i) => seededRandom(`job/${i}/1`));
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(values.filter((v) => v < 0.5).length).toBeGreaterThan(400);
  });
});

describe('decideRetry limits', () => {
  const policy = resolveRetryPolicy({ maximumAttempts: 3, initialInterval: 100, nonRetryable: ['ValidationError'] });
  const failed = (attempt: number, failure: object) => ({
    jobId: 'j',
    stepId: 2,
    attempt,
    failedAt: 0,
    failure: { name: 'Error', message: 'x', ...failure },
  });

  it('stops after the last attempt, for non-retryable errors and for listed names', () => {
    expect(decideRetry(policy, failed(3, {}))).toEqual({ retry: false, reason: 'all 3 attempts failed' });
    expect(decideRetry(policy, failed(1, { nonRetryable: true, name: 'NonRetryableError' }))).toMatchObject({ retry: false });
    expect(decideRetry(policy, failed(1, { name: 'ValidationError' }))).toMatchObject({ retry: false });
  });

  it('honours retryAfter over the backoff', () => {
    expect(decideRetry(policy, failed(1, { retryAfterMs: 5000 }))).toEqual({ retry: true, attempt: 2, at: 5000 });
  });

  it('computes the same jittered instant for the same job, step and attempt', () => {
    const full = resolveRetryPolicy({ jitter: 'full', initialInterval: 1000, maximumAttempts: 5 });
    const a = decideRetry(full, failed(2, {}));
    const b = decideRetry(full, failed(2, {}));
    expect(a).toEqual(b);
    expect(a.retry && a.at).toBeGreaterThanOrEqual(0);
    expect(a.retry && a.at).toBeLessThan(2000);
    const equal = resolveRetryPolicy({ jitter: 'equal', initialInterval: 1000, maximumAttempts: 5 });
    const c = decideRetry(equal, failed(1, {}));
    expect(c.retry && c.at).toBeGreaterThanOrEqual(500);
    expect(c.retry && c.at).toBeLessThan(1000);
  });
});

describe('retry rules and deadline', () => {
  const policy = resolveRetryPolicy({
    initialInterval: 100,
    maximumAttempts: 3,
    rules: [
      { errors: ['RateLimitedError'], initialInterval: '5s', maximumAttempts: 10 },
      { errors: ['ValidationError'], retry: false },
    ],
    deadline: '1s',
  });
  const failed = (name: string, attempt: number, failedAt: number) => ({
    jobId: 'j',
    stepId: 0,
    attempt,
    failedAt,
    firstStartedAt: 0,
    failure: { name, message: 'x' },
  });

  it('applies the first rule naming the error, else the policy', () => {
    expect(decideRetry({ ...policy, deadlineMs: undefined }, failed('RateLimitedError', 5, 0))).toEqual({
      retry: true,
      attempt: 6,
      at: 80_000,
    });
    expect(decideRetry(policy, failed('ValidationError', 1, 0))).toEqual({
      retry: false,
      reason: "ValidationError is not retried by the policy's rules",
    });
    expect(decideRetry(policy, failed('Error', 3, 0))).toEqual({ retry: false, reason: 'all 3 attempts failed' });
  });

  it('gives up when the next attempt would start past the deadline', () => {
    expect(decideRetry(policy, failed('Error', 1, 850))).toEqual({ retry: true, attempt: 2, at: 950 });
    expect(decideRetry(policy, failed('Error', 2, 850))).toEqual({
      retry: false,
      reason: "the step's deadline of 1000 ms would pass before attempt 3",
    });
  });

  it('refuses rules that make no sense', () => {
    expect(() => resolveRetryPolicy({ rules: [{ errors: [] }] })).toThrow('rules[0].errors must be a non-empty array');
    expect(() => resolveRetryPolicy({ rules: [{ errors: ['E'], maximumAttempts: 0 }] })).toThrow('maximumAttempts must be an integer >= 1');
    expect(() => resolveRetryPolicy({ deadline: -5 })).toThrow('deadline must be a finite number');
  });
});
