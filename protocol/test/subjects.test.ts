import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prefixProblem, subjectsFor } from '../src/index.ts';

describe('subjectsFor', () => {
  it('names the default installation as before', () => {
    expect(subjectsFor()).toMatchObject({ prefix: 'ratchet', tasks: 'ratchet.tasks.advance', taskStream: 'RATCHET_TASKS' });
    expect(subjectsFor('my-app-2').taskStream).toBe('MY_APP_2_TASKS');
  });

  it('gives different prefixes different task streams', () => {
    const prefixes = ['a', 'a-b', 'ab', 'a--b', 'a-', '-a', 't0123456789', 'b0123456789', 'x'.repeat(64)];
    const streams = new Set(prefixes.map((prefix) => subjectsFor(prefix).taskStream));
    expect(streams.size).toBe(prefixes.length);
  });

  it('refuses a prefix that could name the stream of another, naming the rule', () => {
    const rule = "must be 1-64 lowercase letters, digits or '-'";
    for (const prefix of ['RVTEST', 'Rvtest', 'a_b', '', 'a.b', 'a b', 'a*', 'x'.repeat(65), 'é']) {
      expect(() => subjectsFor(prefix)).toThrow(RangeError);
      expect(() => subjectsFor(prefix)).toThrow(`prefix ${JSON.stringify(prefix)} ${rule}`);
    }
    expect(prefixProblem('RVTEST', 'RATCHET_PREFIX')).toMatch(/^RATCHET_PREFIX "RVTEST" must be 1-64 lowercase letters, digits or '-' \(/);
    expect(prefixProblem(undefined)).toMatch(/^prefix undefined must be/);
  });

  // tests/harness/isolation.ts and tests/bench: a letter and 10 random hex digits.
  it('accepts the prefixes the test harness and the bench generate', () => {
    for (const letter of ['t', 'b']) {
      for (let i = 0; i < 100; i++) {
        expect(prefixProblem(`${letter}${randomBytes(5).toString('hex')}`)).toBeUndefined();
      }
    }
  });
});
