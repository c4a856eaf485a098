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
