import { Engine } from '@ratchet/engine';
import { NatsTransport } from '@ratchet/sdk/transport';
import { PostgresEventStore } from '@ratchet/store';
import { Worker } from '@ratchet/worker';
import { pino } from 'pino';
import { startHttpEndpoint } from './http-endpoint.ts';
import { loadWorkflows } from './load-workflows.ts';

export interface ServerOptions {
  readonly natsUrl: string;
  readonly prefix: string;
  readonly logLevel: string;
}

/** `ratchet engine`'s HTTP API and web UI. */
export interface EngineHttpOptions {
  readonly httpHost: string;
  /** Undefined: 7420, or a free port when it is taken. */
  readonly httpPort: number | undefined;
  readonly apiToken: string | undefined;
}

/** `ratchet engine`: the engine against real Postgres and NATS, with its HTTP API and web UI, until SIGINT/SIGTERM. */
export async function runEngine(options: ServerOptions & EngineHttpOptions & { readonly databaseUrl: string }): Promise<void> {
  const logger = pino({ level: options.logLevel });
  const store = new PostgresEventStore({ url: options.databaseUrl });
  const transport = await NatsTransport.connect({ servers: options.natsUrl, name: 'ratchet-engine' });
  const engine = new Engine({ store, transport, logger, prefix: options.prefix });
  await engine.start();
  const { server: http, url } = await startHttpEndpoint({
    engine,
    store,
    host: options.httpHost,
    port: options.httpPort,
    token: options.apiToken,
    log: (message) => logger.warn(message),
  });
  logger.info({ url }, `web UI and HTTP API on ${url}`);
  await untilSignal(async () => {
    await http.close();
    await engine.stop();
    await transport.close();
    await store.close();
  });
}

/** `ratchet worker`: runs the module's workflows, pulling tasks from NATS, until SIGINT/SIGTERM. */
export async function runWorker(
  options: ServerOptions & { readonly workflows: string; readonly concurrency?: number; readonly ackWaitMs?: number },
): Promise<void> {
  const logger = pino({ level: options.logLevel });
  const module = await loadWorkflows(options.workflows);
  const transport = await NatsTransport.connect({ servers: options.natsUrl, name: 'ratchet-worker' });
  const worker = new Worker({
    transport,
    workflows: module.workflows,
    breakers: module.breakers,
    logger,
    prefix: options.prefix,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.ackWaitMs === undefined ? {} : { ackWaitMs: options.ackWaitMs }),
  });
  await worker.start();
  await untilSignal(async () => {
    await worker.stop();
    await transport.close();
  });
}

function untilSignal(shutdown: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void shutdown().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
