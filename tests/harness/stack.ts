import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, type EngineOptions } from '@ratchet/engine';
import { Client, type Workflow } from '@ratchet/sdk';
import { MemoryTransport, NatsTransport, type Transport } from '@ratchet/sdk/transport';
import { type EventStore, PgliteEventStore, PostgresEventStore } from '@ratchet/store';
import { Worker, type WorkerOptions } from '@ratchet/worker';
import { pino } from 'pino';
import { deleteStreams, testDatabase, testNats } from './isolation.ts';

/** Which real parts a test stack runs on. */
export type StackKind = 'postgres+nats' | 'pglite+memory';

/** Both kinds: integration tests run against the production pair and the embedded default. */
export const STACK_KINDS: readonly StackKind[] = ['postgres+nats', 'pglite+memory'];

/** An engine, workers and a client on isolated storage and subjects; `close()` removes it all. */
export interface Stack {
  readonly kind: StackKind;
  readonly prefix: string;
  store: EventStore;
  readonly transport: Transport;
  readonly client: Client;
  engine: Engine;
  /** Starts a worker in this process with the given workflows. */
  startWorker(workflows: readonly Workflow<never, unknown>[], options?: Partial<WorkerOptions>): Promise<Worker>;
  /**
   * A restart of engine and workers: stops the workers (abandoning what they hold) and the
   * engine, closes and reopens the store, and starts a new engine. Start new workers after it.
   */
  restart(options?: Partial<EngineOptions>): Promise<void>;
  /** Environment a child process needs to join this stack (DATABASE_URL, NATS_URL, RATCHET_PREFIX). */
  readonly env: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

export const quietLogger = () => pino({ level: process.env.RATCHET_TEST_LOG ?? 'silent' });

/** Builds a stack of the given kind. Each call gets its own database (or directory) and subject prefix. */
export async function startStack(kind: StackKind, engineOptions: Partial<EngineOptions> = {}): Promise<Stack> {
  const cleanups: (() => Promise<void>)[] = [];
  const { url: natsUrl, prefix } = testNats();
  let store: EventStore;
  let transport: Transport;
  let env: Record<string, string> = { RATCHET_PREFIX: prefix };
  let reopenStore: () => EventStore;
  if (kind === 'postgres+nats') {
    const database = await testDatabase();
    reopenStore = () => new PostgresEventStore({ url: database.url });
    store = reopenStore();
    transport = await NatsTransport.connect({ servers: natsUrl, name: `test-${prefix}` });
    env = { ...env, DATABASE_URL: database.url, NATS_URL: natsUrl };
    cleanups.push(database.drop);
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'ratchet-stack-'));
    reopenStore = () => new PgliteEventStore({ dataDir: dir });
    store = reopenStore();
    transport = new MemoryTransport();
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  }
  const workers: Worker[] = [];
  const newEngine = (options: Partial<EngineOptions>) =>
    new Engine({ store: stack.store, transport, prefix, logger: quietLogger(), ...engineOptions, ...options });
  const stack: Stack = {
    kind,
    prefix,
    store,
    transport,
    client: new Client({ transport, prefix }),
    engine: undefined as unknown as Engine,
    env,
    async startWorker(workflows, options = {}) {
      const worker = new Worker({ transport, prefix, workflows, logger: quietLogger(), ackWaitMs: 1500, shutdownGraceMs: 500, ...options });
      await worker.start();
      workers.push(worker);
      return worker;
    },
    async restart(options = {}) {
      for (const worker of workers.splice(0)) await worker.abandon();
      await stack.engine.stop();
      await stack.store.close();
      stack.store = reopenStore();
      stack.engine = newEngine(options);
      await stack.engine.start();
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.stop().catch(() => {})));
      await stack.engine.stop().catch(() => {});
      if (kind === 'postgres+nats') await deleteStreams(natsUrl, prefix);
      await transport.close();
      await stack.store.close();
      for (const cleanup of cleanups.reverse()) await cleanup();
    },
  };
  stack.engine = newEngine({});
  await stack.engine.start();
  return stack;
}
