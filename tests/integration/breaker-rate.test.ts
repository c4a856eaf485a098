import { CircuitOpenError, defineBreaker, defineWorkflow, StepFailedError } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

// Only a rate: a run of failures alone never opens it, a share of failures over the window does.
const inventory = defineBreaker('inventory', { failureRate: { threshold: 0.5, minimumCalls: 6, window: '1m' }, cooldown: '1h' });

/** Every call that reached the dependency, in order. */
const calls: boolean[] = [];

const reserve = defineWorkflow('reserve', async (ctx, input: { fail: boolean }) => {
  try {
    return await ctx.step(
      'reserve',
      () => {
        calls.push(input.fail);
        if (input.fail) throw new Error('inventory service answered 503');
        return 'reserved';
      },
      { breaker: inventory, onOpen: 'fail', retry: { maximumAttempts: 1 } },
    );
  } catch (error) {
    if (error instanceof CircuitOpenError) return 'breaker open';
    if (error instanceof StepFailedError) return 'failed';
    throw error;
  }
});

describe.each(STACK_KINDS)('a failure-rate breaker on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
    for (const name of ['a', 'b']) await stack.startWorker([reserve] as never, { name, breakers: [inventory] });
  });
  afterAll(() => stack.close());

  it('stays closed while failures are at most the threshold share, opens past it, and then makes no call', async () => {
    calls.length = 0;
    const run = async (fail: boolean) => (await stack.client.start(reserve, { fail })).result({ timeout: '10s' });
    // Alternating outcomes: never two failures in a row; 3 of 6 is not more than half.
    for (const fail of [false, true, false, true, false, true]) await expect(run(fail)).resolves.toBe(fail ? 'failed' : 'reserved');
    const opened = async () => (await stack.store.readBreakerEvents()).filter((e) => e.name === 'inventory');
    expect(await opened()).toEqual([]);
    // The seventh call fails: 4 of 7 is more than half, across both workers' calls.
    await expect(run(true)).resolves.toBe('failed');
    await expect
      .poll(async () => (await opened()).map((e) => e.event), { timeout: 5_000 })
      .toEqual([expect.objectContaining({ type: 'BreakerOpened', reason: '4 of the last 7 calls failed' })]);
    // Open: the step fails fast and the dependency is not called.
    await expect(run(false)).resolves.toBe('breaker open');
    expect(calls).toEqual([false, true, false, true, false, true, true]);
  });
});
