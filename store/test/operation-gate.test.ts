import { describe, expect, it } from 'vitest';
import { OperationGate, StoreClosedError } from '../src/operation-gate.ts';

describe('OperationGate', () => {
  it('lets running operations finish before releasing, and refuses new ones once closing', async () => {
    const gate = new OperationGate();
    const order: string[] = [];
    const running = gate.run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      order.push('operation');
      return 42;
    });
    const closed = gate.close(5_000, async () => {
      order.push('release');
    });
    await expect(gate.run(async () => 1)).rejects.toThrow(StoreClosedError);
    expect(await running).toBe(42);
    await closed;
    expect(order).toEqual(['operation', 'release']);
  });

  it('fails an operation still running when the grace is over, instead of leaving it hanging', async () => {
    const gate = new OperationGate();
    const stuck = gate.run(() => new Promise<never>(() => {}));
    let released = false;
    await gate.close(20, async () => {
      released = true;
    });
    expect(released).toBe(true);
    await expect(stuck).rejects.toThrow(/closed while this operation ran \(gave it 20 ms\)/);
  });

  it('keeps the outcome of operations that ended before the close', async () => {
    const gate = new OperationGate();
    const failed = gate.run(async () => {
      throw new RangeError('bad input');
    });
    await expect(failed).rejects.toThrow(RangeError);
    expect(await gate.run(async () => 'fine')).toBe('fine');
    await gate.close(20, async () => {});
  });
});
