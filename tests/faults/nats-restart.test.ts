import { Engine } from '@ratchet/engine';
import { Client } from '@ratchet/sdk';
import { NatsTransport } from '@ratchet/sdk/transport';
import { PostgresEventStore } from '@ratchet/store';
import { Worker } from '@ratchet/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietLogger, type TestDatabase, testDatabase } from '../harness/index.ts';
import { type OwnNats, startOwnNats } from '../harness/own-nats.ts';
import { countedSteps, expectEachStepOnce } from './counted-steps.ts';

const { workflow: steady, executions } = countedSteps('nats-restart-steady', 20);

// A NATS server of the test's own, killed (SIGKILL, like a crash) and started again on the same
// port and JetStream store while jobs run: engine, worker and client each hold a connection of
// their own, as separate processes would, and reconnect.
describe('NATS crashing and coming back mid-load', () => {
  let nats: OwnNats;
  let database: TestDatabase;
  let store: PostgresEventStore;
  const transports: NatsTransport[] = [];
  let engine: Engine;
  let worker: Worker;
  let client: Client;
  beforeAll(async () => {
    nats = await startOwnNats();
    database = await testDatabase();
    store = new PostgresEventStore({ url: database.url });
    const connect = async (name: string) => {
      const transport = await NatsTransport.connect({ servers: nats.url, name, onError: () => {} });
      transports.push(transport);
      return transport;
    };
    engine = new Engine({ store, transport: await connect('engine'), logger: quietLogger() });
    await engine.start();
    worker = new Worker({ transport: await connect('worker'), workflows: [steady] as never, logger: quietLogger(), ackWaitMs: 1500 });
    await worker.start();
    client = new Client({ transport: await connect('client') });
  }, 60_000);
  afterAll(async () => {
    await worker?.stop();
    await engine?.stop();
    for (const transport of transports) await transport.close();
    await store?.close();
    await database?.drop();
    await nats?.stop();
  }, 60_000);

  it('finishes every job, each step completed once, and runs no step that completed again', async () => {
    const jobs = await Promise.all(Array.from({ length: 20 }, (_, i) => client.start(steady, { steps: 8 }, { jobId: `nats-${i}` })));
    await new Promise((resolve) => setTimeout(resolve, 150));
    await nats.restart('SIGKILL');
    const results = await Promise.all(jobs.map((job) => job.result({ timeout: '45s' })));
    expect(results).toEqual(jobs.map(() => 36));
    await expectEachStepOnce(
      store,
      jobs.map((job) => job.jobId),
      8,
      executions,
    );
  }, 60_000);
});
