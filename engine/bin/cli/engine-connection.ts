import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CommandReplies, decode, type EngineCommand, encode, type Reply, subjectsFor } from '@ratchet/protocol';
import { EngineClient, EngineError } from '@ratchet/sdk';
import { DEFAULT_NATS_URL } from './defaults.ts';

/** What the job commands of the CLI need from an engine. */
export interface EngineConnection {
  send<C extends EngineCommand>(command: C): Promise<CommandReplies[C['type']]>;
  close(): Promise<void>;
}

/** Where `ratchet dev` says it can be reached. */
export interface DevEndpoint {
  readonly pid: number;
  readonly port: number;
}

export const DEV_ENDPOINT_FILE = 'dev.json';

/**
 * Without a NATS URL: connects to a running `ratchet dev` (found through `<dataDir>/dev.json`),
 * or, when none runs, opens its log in `<dataDir>` directly (a job started that way runs when
 * `ratchet dev` next starts). With one: the engine behind NATS.
 */
export async function connectToEngine(options: {
  natsUrl: string | undefined;
  dataDir: string;
  prefix: string;
  /** The access token of a `ratchet dev` that listens beyond loopback (RATCHET_API_TOKEN). */
  apiToken?: string | undefined;
}): Promise<EngineConnection> {
  if (!options.natsUrl) {
    const dev = await readDevEndpoint(options.dataDir);
    if (dev) return httpConnection(dev.port, options.apiToken);
    const pgdata = join(options.dataDir, 'pgdata');
    if (existsSync(pgdata)) return localConnection(pgdata);
  }
  // Imported here, not above: a command pays only for the way it reaches the engine.
  const { NatsTransport } = await import('@ratchet/sdk/transport');
  const transport = await NatsTransport.connect({ servers: options.natsUrl ?? DEFAULT_NATS_URL, name: 'ratchet-cli' });
  const engine = new EngineClient({ transport, subjects: subjectsFor(options.prefix) });
  return { send: (command) => engine.send(command), close: () => transport.close() };
}

async function readDevEndpoint(dataDir: string): Promise<DevEndpoint | undefined> {
  try {
    const endpoint = JSON.parse(await readFile(join(dataDir, DEV_ENDPOINT_FILE), 'utf8')) as DevEndpoint;
    process.kill(endpoint.pid, 0); // throws when that process is gone
    return endpoint;
  } catch {
    return undefined;
  }
}

function httpConnection(port: number, apiToken: string | undefined): EngineConnection {
  const headers: Record<string, string> = {
    'content-type': 'application/msgpack',
    ...(apiToken === undefined ? {} : { authorization: `Bearer ${apiToken}` }),
  };
  return {
    async send(command) {
      const response = await fetch(`http://127.0.0.1:${port}/api/commands`, {
        method: 'POST',
        headers,
        body: Buffer.from(encode(command)),
      });
      if (!response.ok) throw new Error(`ratchet dev answered HTTP ${response.status}: ${await response.text()}`);
      const reply = decode(new Uint8Array(await response.arrayBuffer())) as Reply<never>;
      if (!reply.ok) throw new EngineError(reply.error);
      return reply.value;
    },
    close: async () => {},
  };
}

/** The dev log opened in this process: an engine that is not started, used for its commands only. */
async function localConnection(pgdata: string): Promise<EngineConnection> {
  const [{ Engine }, { MemoryTransport }, { PgliteEventStore }, { pino }] = await Promise.all([
    import('@ratchet/engine'),
    import('@ratchet/sdk/transport'),
    import('@ratchet/store'),
    import('pino'),
  ]);
  const store = new PgliteEventStore({ dataDir: pgdata });
  await store.migrate();
  const transport = new MemoryTransport();
  const engine = new Engine({ store, transport, logger: pino({ level: 'silent' }) });
  await transport.ensureTaskQueue({ stream: 'RATCHET_TASKS', subject: 'ratchet.tasks.advance' });
  return {
    // Through the same decoding and validation as any command from the wire.
    async send(command) {
      const reply = decode(await engine.handleCommand(encode(command))) as Reply<never>;
      if (!reply.ok) throw new EngineError(reply.error);
      return reply.value;
    },
    async close() {
      await transport.close();
      await store.close();
    },
  };
}
