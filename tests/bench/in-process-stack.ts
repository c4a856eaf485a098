import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '@ratchet/engine';
import { Client } from '@ratchet/sdk';
import { MemoryTransport, NatsTransport, type Transport } from '@ratchet/sdk/transport';
import { PgliteEventStore, PostgresEventStore } from '@ratchet/store';
import { Worker } from '@ratchet/worker';
import { deleteStreams } from '../harness/isolation.ts';
import { type BenchDatabase, createBenchDatabase } from './bench-database.ts';
import type { BenchContext } from './context.ts';
import { type CountingEventStore, countingEventStore } from './counting-event-store.ts';
import { type CountingTransport, countingTransport } from './counting-transport.ts';
import { LogCapture } from './log-capture.ts';
import type { StackKind } from './options.ts';
import { benchWorkflows } from './workflows.ts';

/** An engine, optionally a worker, and a client in this process, on storage and subjects of their own. */
export interface InProcessStack {
  readonly kind: StackKind;
  readonly label: string;
  readonly prefix: string;
  readonly client: Client;
  readonly clientTransport: CountingTransport;
  /** Undefined when the stack was started without an in-process worker. */
  readonly workerTransport: CountingTransport | undefined;
  readonly store: CountingEventStore;
  /** The Postgres database (postgres+nats only). */
  readonly database: BenchDatabase | undefined;
  /** DATABASE_URL, NATS_URL and RATCHET_PREFIX for worker processes joining this stack. */
  readonly env: Readonly<Record<string, string>>;
  readonly logs: LogCapture;
  /**
   * Stops worker and engine and closes the store, keeping database and streams: the Postgres
   * backends exit and publish their statistics, which `pg_stat_database` shows only then.
   */
  stopServing(): Promise<void>;
  close(): Promise<void>;
}

export interface InProcessStackOptions {
  /** Start a worker in this process. @default true */
  readonly worker?: boolean;
  /** @default 100, so one worker can hold all of W1's jobs in flight */
  readonly concurrency?: number;
  /** Count engine round trips by command type (decodes every request; see countingTransport). @default false */
  readonly countByType?: boolean;
}

/**
 * Builds the stack the way tests/harness/stack.ts does, with three differences for measuring:
 * engine, worker and client each get their own NATS connection (as separate processes would);
 * the worker's and client's transports and the engine's store are wrapped in counters; logs at
 * warn and above go to stderr and are kept for the report.
 */
export async function startInProcessStack(
  kind: StackKind,
  ctx: BenchContext,
  options: InProcessStackOptions = {},
): Promise<InProcessStack> {
  const prefix = `b${randomBytes(5).toString('hex')}`;
  const logs = new LogCapture();
  const undo: (() => Promise<void>)[] = [];
  /** Worker, engine, store: stopped in this order, before the rest is undone. */
  const serving: (() => Promise<void>)[] = [];
  const stopServing = async () => {
    for (const step of serving.splice(0)) await step().catch((error: unknown) => logs.record('cleanup', String(error)));
  };
  const closeAll = async () => {
    await stopServing();
    for (const step of undo.splice(0).reverse()) await step().catch((error: unknown) => logs.record('cleanup', String(error)));
  };
  const release = ctx.cleanup.add(`stack ${prefix}`, closeAll);
  try {
    let database: BenchDatabase | undefined;
    let env: Record<string, string> = { RATCHET_PREFIX: prefix };
    let engineTransport: Transport;
    let workerInner: Transport;
    let clientInner: Transport;
    let store: CountingEventStore;
    if (kind === 'postgres+nats') {
      const db = await createBenchDatabase(ctx.postgresUrl, ctx.cleanup);
      database = db;
      undo.push(() => db.drop());
      env = { ...env, DATABASE_URL: db.url, NATS_URL: ctx.natsUrl };
      store = countingEventStore(new PostgresEventStore({ url: db.url }));
      serving.push(() => store.store.close());
      const connect = async (name: string) => {
        const transport = await NatsTransport.connect({ servers: ctx.natsUrl, name: `bench-${name}-${prefix}` });
        undo.push(() => transport.close());
        return transport;
      };
      undo.push(() => deleteStreams(ctx.natsUrl, prefix));
      [engineTransport, workerInner, clientInner] = await Promise.all([connect('engine'), connect('worker'), connect('client')]);
    } else {
      const dir = await mkdtemp(join(tmpdir(), 'ratchet-bench-'));
      undo.push(() => rm(dir, { recursive: true, force: true }));
      store = countingEventStore(new PgliteEventStore({ dataDir: dir }));
      serving.push(() => store.store.close());
      const memory = new MemoryTransport();
      undo.push(() => memory.close());
      engineTransport = memory;
      workerInner = memory;
      clientInner = memory;
    }
    const engine = new Engine({ store: store.store, transport: engineTransport, prefix, logger: logs.logger('engine') });
    await engine.start();
    serving.unshift(() => engine.stop());
    let workerTransport: CountingTransport | undefined;
    if (options.worker ?? true) {
      workerTransport = countingTransport(workerInner, { byType: options.countByType ?? false });
      const worker = new Worker({
        transport: workerTransport.transport,
        prefix,
        workflows: benchWorkflows,
        logger: logs.logger('worker'),
        concurrency: options.concurrency ?? 100,
        shutdownGraceMs: 2000,
      });
      await worker.start();
      serving.unshift(() => worker.stop());
    }
    const clientTransport = countingTransport(clientInner, { byType: options.countByType ?? false });
    return {
      kind,
      label: `${kind}, in-process`,
      prefix,
      client: new Client({ transport: clientTransport.transport, prefix, timeoutMs: 30_000 }),
      clientTransport,
      workerTransport,
      store,
      database,
      env,
      logs,
      stopServing,
      close: release,
    };
  } catch (error) {
    await release();
    throw error;
  }
}
