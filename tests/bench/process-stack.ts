import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client } from '@ratchet/sdk';
import { NatsTransport } from '@ratchet/sdk/transport';
import { deleteStreams } from '../harness/isolation.ts';
import { type BenchDatabase, createBenchDatabase } from './bench-database.ts';
import type { BenchContext } from './context.ts';
import { type CountingTransport, countingTransport } from './counting-transport.ts';
import { LogCapture } from './log-capture.ts';
import { type RatchetProcess, spawnRatchet } from './ratchet-process.ts';

/** `ratchet engine` and `ratchet worker` processes on Postgres + NATS, and a client in this process. */
export interface ProcessStack {
  readonly label: string;
  readonly prefix: string;
  readonly client: Client;
  readonly clientTransport: CountingTransport;
  readonly database: BenchDatabase;
  readonly env: Readonly<Record<string, string>>;
  readonly engines: readonly RatchetProcess[];
  readonly workers: RatchetProcess[];
  readonly logs: LogCapture;
  /** Stops every worker and engine process (SIGTERM), keeping database and streams. */
  stopServing(): Promise<void>;
  /** Spawns one more worker process and waits until it consumes. */
  addWorker(): Promise<RatchetProcess>;
  close(): Promise<void>;
}

export interface ProcessStackOptions {
  readonly engines: number;
  readonly workers: number;
  /** `--concurrency` of each worker. @default 100 */
  readonly concurrency?: number;
  /** `--ack-wait` of each worker, when given. */
  readonly ackWaitMs?: number;
}

/** Starts the engines (all at once: migrations must tolerate that), then the workers. */
export async function startProcessStack(ctx: BenchContext, options: ProcessStackOptions): Promise<ProcessStack> {
  const prefix = `b${randomBytes(5).toString('hex')}`;
  const logs = new LogCapture();
  const undo: (() => Promise<void>)[] = [];
  const release = ctx.cleanup.add(`process stack ${prefix}`, async () => {
    for (const step of undo.splice(0).reverse()) await step().catch((error: unknown) => logs.record('cleanup', String(error)));
  });
  try {
    const database = await createBenchDatabase(ctx.postgresUrl, ctx.cleanup);
    undo.push(() => database.drop());
    undo.push(() => deleteStreams(ctx.natsUrl, prefix));
    const env = { DATABASE_URL: database.url, NATS_URL: ctx.natsUrl, RATCHET_PREFIX: prefix };
    const spawned: RatchetProcess[] = [];
    // Workers first, so none is left waiting on an engine that has gone.
    const stopServing = async () => {
      await Promise.all(spawned.filter((child) => child.name.startsWith('worker')).map((child) => child.stop(5000)));
      await Promise.all(spawned.map((child) => child.stop(5000)));
    };
    undo.push(stopServing);
    const spawn = async (name: string, args: readonly string[]) => {
      const child = await spawnRatchet({ root: ctx.root, name, args, env, cleanup: ctx.cleanup, logs });
      spawned.push(child);
      return child;
    };
    const engines = await Promise.all(Array.from({ length: options.engines }, (_, i) => spawn(`engine-${i + 1}`, ['engine'])));
    const workerArgs = [
      'worker',
      '--workflows',
      join(ctx.root, 'tests/bench/workflows.ts'),
      '--concurrency',
      String(options.concurrency ?? 100),
      ...(options.ackWaitMs === undefined ? [] : ['--ack-wait', String(options.ackWaitMs)]),
    ];
    let workerCount = 0;
    const addWorker = () => spawn(`worker-${++workerCount}`, workerArgs);
    const workers: RatchetProcess[] = [];
    for (const worker of await Promise.all(Array.from({ length: options.workers }, addWorker))) workers.push(worker);
    const nats = await NatsTransport.connect({ servers: ctx.natsUrl, name: `bench-client-${prefix}` });
    undo.push(() => nats.close());
    const clientTransport = countingTransport(nats, { byType: true });
    return {
      label: `postgres+nats, processes: ${options.engines} engine${options.engines > 1 ? 's' : ''}, ${options.workers} worker${options.workers > 1 ? 's' : ''}`,
      prefix,
      client: new Client({ transport: clientTransport.transport, prefix, timeoutMs: 30_000 }),
      clientTransport,
      database,
      env,
      engines,
      workers,
      logs,
      stopServing,
      async addWorker() {
        const worker = await addWorker();
        workers.push(worker);
        return worker;
      },
      close: release,
    };
  } catch (error) {
    await release();
    throw error;
  }
}
