import { describe, expect, it } from 'vitest';
import { Client, defineWorkflow, InvalidWorkflowError } from '../src/index.ts';
import { MemoryTransport } from '../src/transport/index.ts';

const run = async () => 1;

describe('defineWorkflow', () => {
  it('refuses an execution timeout that is not whole milliseconds of at least 1, naming the workflow', () => {
    for (const [timeout, shown] of [
      [1.5, '1.5'],
      ['1.5ms', '1.5'],
      [0, '0'],
      ['0s', '0'],
      [1e16, '10000000000000000'],
    ] as const) {
      expect(() => defineWorkflow('w', run, { timeout })).toThrow(InvalidWorkflowError);
      expect(() => defineWorkflow('w', run, { timeout })).toThrow(
        `timeout of workflow "w" must be a whole number of milliseconds from 1 to 8640000000000000, got ${shown}`,
      );
    }
    expect(() => defineWorkflow('w', run, { timeout: 'soon' as never })).toThrow(InvalidWorkflowError);
    expect(() => defineWorkflow('w', run, { timeout: -1 })).toThrow(InvalidWorkflowError);
  });

  it('keeps a valid timeout in milliseconds', () => {
    expect(defineWorkflow('w', run, { timeout: '1.5s' }).timeoutMs).toBe(1500);
    expect(defineWorkflow('w', run, { timeout: 1 }).timeoutMs).toBe(1);
  });
});

describe('Client.start', () => {
  // No engine behind the transport: every refusal here comes before anything is sent.
  const client = new Client({ transport: new MemoryTransport(), timeoutMs: 200 });
  const w = defineWorkflow('w', run);

  it('refuses anything but a workflow definition or a name with a TypeError', async () => {
    const rule = 'client.start needs a workflow from defineWorkflow or a workflow name, got';
    await expect(client.start(undefined as never, 1)).rejects.toThrow(new TypeError(`${rule} undefined`));
    await expect(client.start(null as never, 1)).rejects.toThrow(new TypeError(`${rule} null`));
    await expect(client.start(42 as never, 1)).rejects.toThrow(new TypeError(`${rule} 42`));
    await expect(client.start(run as never, 1)).rejects.toThrow(new TypeError(`${rule} a function (wrap it in defineWorkflow)`));
    await expect(client.start({ name: 'w' } as never, 1)).rejects.toThrow(
      new TypeError(`${rule} an object without a string name and version`),
    );
  });

  it('refuses a start timeout that is not whole milliseconds of at least 1', async () => {
    for (const timeout of [1.5, 0, '0ms', 1e16] as const) {
      await expect(client.start(w, 1, { timeout })).rejects.toThrow(RangeError);
      await expect(client.start(w, 1, { timeout })).rejects.toThrow(
        /^timeout must be a whole number of milliseconds from 1 to 8640000000000000, got /,
      );
    }
  });
});
