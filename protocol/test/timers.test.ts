import { describe, expect, it } from 'vitest';
import { REAL_TIMERS } from '../src/index.ts';

describe('REAL_TIMERS', () => {
  it('fires after the delay and not when cleared', async () => {
    const fired: string[] = [];
    REAL_TIMERS.setTimeout(() => fired.push('kept'), 5);
    REAL_TIMERS.clearTimeout(REAL_TIMERS.setTimeout(() => fired.push('cleared'), 5));
    REAL_TIMERS.clearTimeout(undefined);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(fired).toEqual(['kept']);
  });

  it('does not fire a delay longer than a Node timer holds at once (Node alone would)', async () => {
    let fired = false;
    const handle = REAL_TIMERS.setTimeout(
      () => {
        fired = true;
      },
      40 * 24 * 60 * 60 * 1000,
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    REAL_TIMERS.clearTimeout(handle);
    expect(fired).toBe(false);
  });
});
