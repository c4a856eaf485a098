import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine, type JobChange, timelineRow } from '@ratchet/engine';
import { Client } from '@ratchet/sdk';
import { MemoryTransport } from '@ratchet/sdk/transport';
import { PgliteEventStore } from '@ratchet/store';
import { Worker } from '@ratchet/worker';
import { pino } from 'pino';
import { DataDirInUseError, type DataDirLock, lockDataDir } from './data-dir-lock.ts';
import { DEV_ENDPOINT_FILE, DEV_WORKFLOWS_FILE, type DevWorkflows } from './engine-connection.ts';
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

/** How long `ratchet dev` waits for a job command that has the log open to finish with it. */
const COMMAND_LOCK_WAIT_MS = 5000;

/**
 * Engine and worker in one process: the log in PGlite under `dataDir`, tasks over the
 * in-process transport. Stopping and starting again resumes every job from the log. Only one
 * process may have the log open: a second `ratchet dev` on the same `dataDir` is refused.
 */
export async function runDev(options: DevOptions): Promise<void> {
  const module = await loadWorkflows(options.workflows);
  // Before anything starts: a missing main found later would leave a half-started dev behind.
  const main = module.main;
  if (options.main && !main) throw new Error(`${options.workflows} exports no main function to run (ratchet dev --main runs it)`);
  await mkdir(options.dataDir, { recursive: true });
  const lock = await lockForDev(options.dataDir);
  // Kept after it stops: job commands check starts against it while no dev runs.
  const served: DevWorkflows = { module: options.workflows, workflows: module.workflows.map((w) => w.name) };
  await writeFile(join(options.dataDir, DEV_WORKFLOWS_FILE), `${JSON.stringify(served)}\n`);

  // What has started, stopped in reverse order on the way out, however it goes.
  const started: { what: string; stop: () => Promise<unknown> }[] = [{ what: 'the data dir lock', stop: () => lock.release() }];
  const logger = pino({ level: process.env.RATCHET_LOG_LEVEL ?? 'warn' }, pino.destination(2));
  const stopStarted = async (): Promise<void> => {
    let failure: unknown;
    for (let next = started.pop(); next !== undefined; next = started.pop()) {
      try {
        await next.stop();
      } catch (error) {
        logger.error({ err: error }, `ratchet dev: could not stop ${next.what}`);
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  };

  const listeners: ((change: JobChange) => void)[] = [];
  if (!options.quiet) listeners.push(printChange);
  const transport = new MemoryTransport();
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
  let url: string;
  try {
    const store = new PgliteEventStore({ dataDir: join(options.dataDir, 'pgdata') });
    started.push({ what: 'the store', stop: () => store.close() });
    started.push({ what: 'the transport', stop: () => transport.close() });
    const engine = new Engine({
      store,
      transport,
      logger,
      workersRestartWithEngine: true,
      observer: (change) => {
        for (const listener of listeners) listener(change);
      },
    });
    started.push({ what: 'the engine', stop: () => engine.stop() });
    await engine.start();
    started.push({ what: 'the worker', stop: () => worker.stop() });
    await worker.start();
    const http = await startHttpEndpoint({
      engine,
      store,
      host: options.httpHost,
      port: options.httpPort,
      token: options.apiToken,
      log,
    });
    started.push({ what: 'the HTTP server', stop: () => http.server.close() });
    url = http.url;
    const endpoint = join(options.dataDir, DEV_ENDPOINT_FILE);
    started.push({ what: DEV_ENDPOINT_FILE, stop: () => rm(endpoint, { force: true }) });
    await writeFile(endpoint, JSON.stringify({ pid: process.pid, port: http.port }));
  } catch (error) {
    await stopStarted().catch(() => {});
    throw error;
  }
  log(
    `ratchet dev: ${module.workflows.length} workflow(s) [${module.workflows.map((w) => w.name).join(', ')}], log in ${join(options.dataDir, 'pgdata')}`,
  );
  log(`ratchet dev: web UI and HTTP API on ${url}`);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= stopStarted();
    return stopping;
  };
  const interrupted = new Promise<void>((resolve, reject) => {
    const onSignal = (signal: string) => {
      log(`\n${signal}: stopping; running jobs resume on the next start`);
      stop().then(resolve, reject);
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  });

  if (!options.main || !main) return interrupted;
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

/**
 * Takes the data dir's lock. Another `ratchet dev` is refused at once; a job command that has
 * the log open (`ratchet status` with no dev running) is waited for briefly.
 */
async function lockForDev(dataDir: string): Promise<DataDirLock> {
  const deadline = Date.now() + COMMAND_LOCK_WAIT_MS;
  for (;;) {
    try {
      return await lockDataDir(dataDir, 'ratchet dev');
    } catch (error) {
      if (!(error instanceof DataDirInUseError) || error.holder.command === 'ratchet dev' || Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
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
