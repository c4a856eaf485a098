import { describe, expect, it } from 'vitest';
import { createIdFactory, jobIdProblem } from '../src/ids.ts';

describe('createIdFactory', () => {
  it('makes ULIDs that sort in the order they were made, within a millisecond and across them', () => {
    let time = Date.UTC(2026, 0, 1);
    const next = createIdFactory(() => time);
    const ids: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      if (i % 1000 === 0) time += 1;
      ids.push(next());
    }
    expect(ids.every((id) => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('draws the random part afresh for each millisecond, spread over the whole alphabet', () => {
    let time = Date.UTC(2026, 0, 1);
    const next = createIdFactory(() => time++);
    const randomParts = Array.from({ length: 2000 }, () => next().slice(10));
    expect(new Set(randomParts).size).toBe(randomParts.length);
    // 2,000 × 16 characters over 32 symbols: every symbol shows up, none more than twice its share.
    const tally = new Map<string, number>();
    for (const part of randomParts) for (const char of part) tally.set(char, (tally.get(char) ?? 0) + 1);
    expect(tally.size).toBe(32);
    expect(Math.max(...tally.values())).toBeLessThan((2 * 2000 * 16) / 32);
  });

  it('gives two factories different ids for the same millisecond', () => {
    const a = createIdFactory(() => 1_000);
    const b = createIdFactory(() => 1_000);
    expect(a()).not.toBe(b());
  });
});

describe('jobIdProblem', () => {
  it('accepts ids fit for subjects and URLs and names what is wrong with others', () => {
    expect(jobIdProblem('order-42:v1')).toBeUndefined();
    expect(jobIdProblem('')).toMatch(/1-200 characters/);
    expect(jobIdProblem('a b')).toMatch(/letters, digits/);
    expect(jobIdProblem(7)).toBe('jobId must be a string, got number');
  });
});
