import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '@ratchet/engine';
import { Client, defineWorkflow } from '@ratchet/sdk';
import { MemoryTransport, TransportError } from '@ratchet/sdk/transport';
import { PgliteEventStore } from '@ratchet/store';
import { Worker } from '@ratchet/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietLogger } from '../harness/index.ts';

/** An in-process transport whose next task publishes for a job fail, as JetStream's do while NATS restarts. */
class FlakyTransport extends MemoryTransport {
  readonly failures = new Map<string, number>();
  override async publishTask(...args: Parameters<MemoryTransport['publishTask']>): Promise<void> {
    const jobId = args[2].slice(0, args[2].lastIndexOf(':'));
    const left = this.failures.get(jobId) ?? 0;
    if (left > 0) {
      this.failures.set(jobId, left - 1);
      throw new TransportError('no responders (JetStream restarting)', 'no-responders');
    }
    return super.publishTask(...args);
  }
}

const napper = defineWorkflow('napper', async (ctx) => {
  await ctx.sleep('200ms');
  return ctx.step('after', () => 'woke');
});
const quick = defineWorkflow('quick', async (ctx) => ctx.step('only', () => 'ok'));

describe('task publishes that fail after their commit', () => {
  let dir: string;
  let transport: FlakyTransport;
  let store: PgliteEventStore;
  let engine: Engine;
  let worker: Worker;
  let client: Client;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratchet-dispatch-'));
    transport = new FlakyTransport({ onError: () => {} });
    store = new PgliteEventStore({ dataDir: dir });
    engine = new Engine({ store, transport, logger: quietLogger(), recoveryIntervalMs: 3000 });
    await engine.start();
    worker = new Worker({ transport, workflows: [napper, quick] as never, logger: quietLogger(), ackWaitMs: 1000 });
    await worker.start();
    client = new Client({ transport });
  });
  afterAll(async () => {
    await worker.stop();
    await engine.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('are tried again, so a start and a timer still reach a worker', async () => {
    transport.failures.set('quick-1', 2);
    const job = await client.start(quick, {}, { jobId: 'quick-1' });
    await expect(job.result({ timeout: '5s' })).resolves.toBe('ok');
    const sleeper = await client.start(napper, {}, { jobId: 'napper-1' });
    await expect.poll(async () => (await store.read(sleeper.jobId)).at(-1)?.event.type, { timeout: 5000 }).toBe('TimerStarted');
    transport.failures.set('napper-1', 2);
    await expect(sleeper.result({ timeout: '5s' })).resolves.toBe('woke');
  });

  it('leave a job that a repeated start or the recovery sweep sends out again when every try fails', async () => {
    for (const jobId of ['stranded-1', 'stranded-2']) {
      transport.failures.set(jobId, 5);
      await expect(client.start(quick, {}, { jobId })).rejects.toMatchObject({ name: 'TransportError' });
    }
    // The jobs were committed before their publishes failed. Starting one again sends its task...
    await expect((await client.start(quick, {}, { jobId: 'stranded-1' })).result({ timeout: '5s' })).resolves.toBe('ok');
    // ...and the recovery sweep sends the other's once it has been idle a sweep's interval.
    await expect(client.handle('stranded-2').result({ timeout: '10s' })).resolves.toBe('ok');
  });
});
