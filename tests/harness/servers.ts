import { connect } from 'node:net';

export interface Servers {
  readonly postgresUrl: string;
  readonly natsUrl: string;
  /** Stops whatever servers this run started itself. */
  stop(): Promise<void>;
}

/**
 * Real servers for the tests, in order of preference: DATABASE_URL / NATS_URL; servers already
 * listening on the default local ports. Fails with instructions when none is found; the
 * real-server tests are never skipped quietly.
 */
export async function findServers(env: NodeJS.ProcessEnv = process.env): Promise<Servers> {
  const postgresUrl =
    env.DATABASE_URL ?? ((await isListening('127.0.0.1', 5432)) ? 'postgres://postgres@127.0.0.1:5432/postgres' : undefined);
  const natsUrl = env.NATS_URL ?? ((await isListening('127.0.0.1', 4222)) ? 'nats://127.0.0.1:4222' : undefined);
  if (!postgresUrl || !natsUrl) {
    throw new Error(
      `The tests need real servers and found ${postgresUrl ? '' : 'no Postgres'}${!postgresUrl && !natsUrl ? ' and ' : ''}${natsUrl ? '' : 'no NATS'}. ` +
        'Set DATABASE_URL and NATS_URL, or run Postgres on 127.0.0.1:5432 and `nats-server -js` on 127.0.0.1:4222.',
    );
  }
  return { postgresUrl, natsUrl, stop: async () => {} };
}

/** True when something accepts TCP connections on host:port. */
export function isListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
