import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine, type JobChange, timelineRow } from '@ratchet/engine';
import { Client } from '@ratchet/sdk';
import { MemoryTransport } from '@ratchet/sdk/transport';
import { PgliteEventStore } from '@ratchet/store';
import { Worker } from '@ratchet/worker';
import { pino } from 'pino';
import { DEV_ENDPOINT_FILE } from './engine-connection.ts';
import { startHttpEndpoint } from './http-endpoint.ts';
import { loadWorkflows } from './load-workflows.ts';

export interface DevOptions {
  readonly workflows: string;
  readonly dataDir: string;
  /** Run the module's `main` export, then stop. */
  readonly main: boolean;
  readonly quiet: boolean;
  /** HTTP API and web UI: the interface, and the port (undefined: 7420, or a free one when taken). */
  readonly httpHost: string;
  readonly httpPort: number | undefined;
  /** Required when `httpHost` is beyond loopback. */
  readonly apiToken: string | undefined;
}

/**
 * Engine and worker in one process: the log in PGlite under `dataDir`, tasks over the
 * in-process transport. Stopping and starting again resumes every job from the log.
 */
export async function runDev(options: DevOptions): Promise<void> {
  const module = await loadWorkflows(options.workflows);
  await mkdir(options.dataDir, { recursive: true });
  const logger = pino({ level: process.env.RATCHET_LOG_LEVEL ?? 'warn' }, pino.destination(2));
  const store = new PgliteEventStore({ dataDir: join(options.dataDir, 'pgdata') });
  const transport = new MemoryTransport();
  const listeners: ((change: JobChange) => void)[] = [];
  if (!options.quiet) listeners.push(printChange);
  const engine = new Engine({
    store,
    transport,
    logger,
    workersRestartWithEngine: true,
    observer: (change) => {
      for (const listener of listeners) listener(change);
    },
  });
  // The worker's default ack wait (600 ms): a crashed worker's task comes back within about a second.
  const newWorker = () =>
    new Worker({
      transport,
      workflows: module.workflows,
      breakers: module.breakers,
      logger,
      shutdownGraceMs: 0,
      name: `dev-worker-${Date.now().toString(36)}`,
    });
  let worker = newWorker();

  await engine.start();
  await worker.start();
  const {
    server: http,
    port,
    url,
  } = await startHttpEndpoint({
    engine,
    store,
    host: options.httpHost,
    port: options.httpPort,
    token: options.apiToken,
    log,
  });
  await writeFile(join(options.dataDir, DEV_ENDPOINT_FILE), JSON.stringify({ pid: process.pid, port }));
  log(
    `ratchet dev: ${module.workflows.length} workflow(s) [${module.workflows.map((w) => w.name).join(', ')}], log in ${join(options.dataDir, 'pgdata')}`,
  );
  log(`ratchet dev: web UI and HTTP API on ${url}`);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await worker.stop();
      await engine.stop();
      await http.close();
      await rm(join(options.dataDir, DEV_ENDPOINT_FILE), { force: true });
      await transport.close();
      await store.close();
    })();
    return stopping;
  };
  const interrupted = new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      log(`\n${signal}: stopping; running jobs resume on the next start`);
      void stop().then(resolve);
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  });

  if (!options.main) return interrupted;
  const main = module.main;
  if (!main) throw new Error(`${options.workflows} exports no main function to run`);
  const finished = main({
    client: new Client({ transport }),
    dataDir: options.dataDir,
    onChange: (listener) => listeners.push(listener),
    crashWorker: async () => {
      const crashed = worker;
      worker = newWorker();
      await crashed.abandon();
      await worker.start();
    },
    log,
  }).finally(stop);
  await Promise.race([finished, interrupted]);
}

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

const printChange = ({ state, events }: JobChange): void => {
  for (const recorded of events) {
    const row = timelineRow(recorded, state);
    const what = [row.step, row.attempt === undefined ? '' : `attempt ${row.attempt}`].filter(Boolean).join(' ');
    const note = [row.error, row.detail].filter(Boolean).join('  ');
    log(`${row.time.slice(11, 23)}  ${state.jobId.slice(-8)}  ${row.type.padEnd(18)} ${what.padEnd(26)} ${note}`);
  }
};
