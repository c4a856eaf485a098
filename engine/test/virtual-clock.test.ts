import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../testing/virtual-clock.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('VirtualClock', () => {
  it('fires timers only when moved to them, earliest first, each at its own instant', () => {
    const clock = new VirtualClock({ start: 1000 });
    const fired: [string, number][] = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 500);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 200);
    clock.setTimeout(() => fired.push(['c', clock.now()]), 500);
    expect(clock.nextAt()).toBe(1200);
    clock.fireNext();
    expect(fired).toEqual([['a', 1200]]);
    clock.fireNext();
    expect(fired).toEqual([
      ['a', 1200],
      ['b', 1500],
      ['c', 1500],
    ]);
    expect(clock.nextAt()).toBeUndefined();
    expect(clock.now()).toBe(1500);
  });

  it('fires a zero-delay timer at the next turn without moving time, and never a cleared one', async () => {
    const clock = new VirtualClock({ start: 0 });
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('now'), 0);
    const cleared = clock.setTimeout(() => fired.push('cleared'), -5);
    clock.clearTimeout(cleared);
    clock.clearTimeout(undefined);
    expect(fired).toEqual([]);
    await turn();
    expect(fired).toEqual(['now']);
    expect(clock.now()).toBe(0);
  });

  it('does not count a timer set for ever as due, and moves only forward', () => {
    const clock = new VirtualClock({ start: 100 });
    clock.setTimeout(() => {}, Number.POSITIVE_INFINITY);
    expect(clock.nextAt()).toBeUndefined();
    clock.moveTo(50);
    expect(clock.now()).toBe(100);
    let late = 0;
    clock.setTimeout(() => {
      late = clock.now();
    }, 10);
    clock.moveTo(1000);
    expect(late).toBe(1000);
  });

  it('tells whoever drives it each time a timer is set', () => {
    let told = 0;
    const clock = new VirtualClock({ start: 0, onSet: () => told++ });
    clock.setTimeout(() => {}, 10);
    clock.setTimeout(() => {}, 20);
    expect(told).toBe(2);
  });
});
