import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CommandReplies, decode, type EngineCommand, encode, type Reply, subjectsFor } from '@ratchet/protocol';
import { EngineClient, EngineError } from '@ratchet/sdk';
import { DataDirInUseError, type DataDirLock, lockDataDir, lockHolder } from './data-dir-lock.ts';
import { DEFAULT_NATS_URL } from './defaults.ts';

/** What the job commands of the CLI need from an engine. */
export interface EngineConnection {
  send<C extends EngineCommand>(command: C): Promise<CommandReplies[C['type']]>;
  close(): Promise<void>;
  /**
   * Set when the log is open in this process with no engine running its jobs (no `ratchet dev`
   * in the data dir): a job started now runs when `ratchet dev` next starts.
   */
  readonly offline?: { readonly dataDir: string };
}

/** What `ratchet dev` last served from a data dir: the job commands check starts against it while it is not running. */
export interface DevWorkflows {
  /** The module it loaded, as given. */
  readonly module: string;
  readonly workflows: readonly string[];
}

export const DEV_WORKFLOWS_FILE = 'workflows.json';

/** Where `ratchet dev` says it can be reached. */
export interface DevEndpoint {
  readonly pid: number;
  readonly port: number;
}

export const DEV_ENDPOINT_FILE = 'dev.json';

/**
 * Without a NATS URL: connects to a running `ratchet dev` (found through `<dataDir>/dev.json`),
 * or, when none runs, opens its log in `<dataDir>` directly (a job started that way runs when
 * `ratchet dev` next starts), holding the data dir's lock while it has it open; while another
 * live process holds that lock (a dev still starting, another command), waits for it, never
 * opening the log under it. Neither: the default NATS. With a NATS URL: the engine behind it.
 */
export async function connectToEngine(options: {
  natsUrl: string | undefined;
  dataDir: string;
  prefix: string;
  /** The access token of a `ratchet dev` that listens beyond loopback (RATCHET_API_TOKEN). */
  apiToken?: string | undefined;
  /** What the data dir's lock names as its holder while the log is open here. @default 'ratchet' */
  command?: string;
  /** How long to wait for another process that holds the data dir's lock. @default 10000 */
  lockWaitMs?: number;
}): Promise<EngineConnection> {
  if (!options.natsUrl) {
    const pgdata = join(options.dataDir, 'pgdata');
    const deadline = Date.now() + (options.lockWaitMs ?? 10_000);
    for (;;) {
      const dev = await readDevEndpoint(options.dataDir);
      if (dev) return httpConnection(dev.port, options.apiToken);
      if (existsSync(pgdata)) {
        try {
          return await localConnection(options.dataDir, await lockDataDir(options.dataDir, options.command ?? 'ratchet'));
        } catch (error) {
          if (!(error instanceof DataDirInUseError) || Date.now() > deadline) throw error;
        }
      } else {
        // A first `ratchet dev` creating the log: wait for its dev.json.
        const holder = await lockHolder(options.dataDir);
        if (holder === undefined) break;
        if (Date.now() > deadline) throw new DataDirInUseError(options.dataDir, holder);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  // Imported here, not above: a command pays only for the way it reaches the engine.
  const { NatsTransport, TransportError } = await import('@ratchet/sdk/transport');
  const servers = options.natsUrl || DEFAULT_NATS_URL;
  // Without NATS_URL the default NATS is only a guess: say what was tried when it has no engine.
  const tried = (what: string) =>
    `no engine answered: no \`ratchet dev\` is running in ${options.dataDir} and NATS_URL is not set (${what})`;
  let transport: Awaited<ReturnType<typeof NatsTransport.connect>>;
  try {
    transport = await NatsTransport.connect({ servers, name: 'ratchet-cli' });
  } catch (error) {
    if (options.natsUrl) throw error;
    throw new Error(tried((error as Error).message), { cause: error });
  }
  const engine = new EngineClient({ transport, subjects: subjectsFor(options.prefix) });
  return {
    async send(command) {
      try {
        return await engine.send(command);
      } catch (error) {
        if (options.natsUrl || !(error instanceof TransportError) || error.code !== 'no-responders') throw error;
        throw new Error(tried(`${servers} has no engine with prefix ${options.prefix}`), { cause: error });
      }
    },
    close: () => transport.close(),
  };
}

/** What `ratchet dev` last served from `dataDir`, if it recorded it. */
async function readDevWorkflows(dataDir: string): Promise<DevWorkflows | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, DEV_WORKFLOWS_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const recorded = JSON.parse(text) as DevWorkflows;
  if (typeof recorded?.module !== 'string' || !Array.isArray(recorded.workflows)) {
    throw new Error(
      `${join(dataDir, DEV_WORKFLOWS_FILE)} is not what \`ratchet dev\` writes; remove it, and the next \`ratchet dev\` writes it again`,
    );
  }
  return recorded;
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

/**
 * The dev log opened in this process: an engine that is not started, used for its commands only.
 * Holds `lock` until closed (released here if the log cannot be opened).
 */
async function localConnection(dataDir: string, lock: DataDirLock): Promise<EngineConnection> {
  try {
    return await openLocal(dataDir, lock);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

async function openLocal(dataDir: string, lock: DataDirLock): Promise<EngineConnection> {
  const served = await readDevWorkflows(dataDir);
  const [{ Engine }, { MemoryTransport }, { PgliteEventStore }, { pino }] = await Promise.all([
    import('@ratchet/engine'),
    import('@ratchet/sdk/transport'),
    import('@ratchet/store'),
    import('pino'),
  ]);
  const store = new PgliteEventStore({ dataDir: join(dataDir, 'pgdata') });
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  const transport = new MemoryTransport();
  const engine = new Engine({ store, transport, logger: pino({ level: 'silent' }) });
  await transport.ensureTaskQueue({ stream: 'RATCHET_TASKS', subject: 'ratchet.tasks.advance' });
  return {
    offline: { dataDir },
    // Through the same decoding and validation as any command from the wire.
    async send(command) {
      // No worker announces here: judge a start by what `ratchet dev` served last.
      if (command.type === 'StartJob' && served && !served.workflows.includes(command.workflow)) {
        throw new EngineError({
          name: 'UnknownWorkflowError',
          message: `no workflow "${command.workflow}" in ${served.module}, which \`ratchet dev\` last ran in ${dataDir} (its workflows: ${served.workflows.join(', ') || 'none'}); the job would never run`,
        });
      }
      const reply = decode(await engine.handleCommand(encode(command))) as Reply<never>;
      if (!reply.ok) throw new EngineError(reply.error);
      return reply.value;
    },
    async close() {
      try {
        await transport.close();
        await store.close();
      } finally {
        await lock.release();
      }
    },
  };
}
