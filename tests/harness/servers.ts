import { connect } from 'node:net';
import { startOwnNats } from './own-nats.ts';
import { startOwnPostgres } from './own-postgres.ts';
import type { RunningServer } from './running-server.ts';
import { dockerUnreachable, startNatsContainer, startPostgresContainer } from './server-containers.ts';
import { messageOf, type ProbeResult, probeNatsJetStream, probePostgres, waitForProbe } from './server-probes.ts';

export interface Servers {
  readonly postgresUrl: string;
  readonly natsUrl: string;
  /** Stops whatever servers this run started itself. */
  stop(): Promise<void>;
}

/**
 * How {@link findServers} gets its servers, from `RATCHET_TEST_SERVERS`: `auto` tries every source
 * in order; `own` only starts servers of its own (initdb + pg_ctl, nats-server), even when
 * DATABASE_URL / NATS_URL are set or the default ports answer; `docker` only starts containers.
 */
export type ServerSourceMode = 'auto' | 'own' | 'docker';

/** One of the two servers the tests need, and every way of getting it. */
interface ServerKind {
  readonly name: string;
  readonly envVar: 'DATABASE_URL' | 'NATS_URL';
  readonly defaultPort: number;
  readonly defaultUrl: string;
  probe(url: string, timeoutMs?: number): Promise<ProbeResult>;
  startOwn(env: NodeJS.ProcessEnv): Promise<RunningServer>;
  startContainer(): Promise<RunningServer>;
}

const POSTGRES: ServerKind = {
  name: 'Postgres',
  envVar: 'DATABASE_URL',
  defaultPort: 5432,
  defaultUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
  probe: probePostgres,
  startOwn: (env) => startOwnPostgres({ env }),
  startContainer: startPostgresContainer,
};

const NATS: ServerKind = {
  name: 'NATS',
  envVar: 'NATS_URL',
  defaultPort: 4222,
  defaultUrl: 'nats://127.0.0.1:4222',
  probe: probeNatsJetStream,
  startOwn: (env) => startOwnNats({ env }),
  startContainer: startNatsContainer,
};

/**
 * What trying every source for one server ended in; `passedOver` names the sources that were there
 * but unusable, so the log says why the harness started a server of its own.
 */
type Outcome = { readonly server: RunningServer; readonly passedOver: readonly string[] } | { readonly tried: readonly string[] };

/**
 * Real Postgres and NATS JetStream servers for the tests. For each of the two, independently, the
 * first that works of:
 *
 * 1. `DATABASE_URL` / `NATS_URL` when set (an unusable URL is an error, never passed over);
 * 2. a server on the default local port: Postgres on 127.0.0.1:5432 as user `postgres` with trust
 *    authentication, NATS on 127.0.0.1:4222 with JetStream enabled;
 * 3. a server of its own: `initdb` + `pg_ctl` on a temporary directory, `nats-server -js`, each on
 *    a free port of 127.0.0.1;
 * 4. a Docker container through testcontainers (`postgres:16`, `nats:2 -js`) when an engine answers.
 *
 * Otherwise it throws an error listing what it tried and how to get servers: the real-server
 * tests are never skipped quietly. `RATCHET_TEST_SERVERS` ({@link ServerSourceMode}) forces one
 * source. Writes one line per server to stderr naming the source used.
 *
 * @example
 * const servers = await findServers();
 * try { await runAgainst(servers.postgresUrl, servers.natsUrl); } finally { await servers.stop(); }
 */
export async function findServers(env: NodeJS.ProcessEnv = process.env): Promise<Servers> {
  const mode = serverSourceMode(env.RATCHET_TEST_SERVERS);
  let docker: Promise<string | undefined> | undefined;
  const dockerCheck = () => {
    docker ??= dockerUnreachable(env);
    return docker;
  };
  const [postgres, nats] = await Promise.all([obtain(POSTGRES, env, mode, dockerCheck), obtain(NATS, env, mode, dockerCheck)]);
  if ('server' in postgres && 'server' in nats) {
    for (const [kind, outcome] of [
      [POSTGRES, postgres],
      [NATS, nats],
    ] as const) {
      const note = outcome.passedOver.length > 0 ? ` (passed over ${outcome.passedOver.join('; ')})` : '';
      process.stderr.write(`[ratchet tests] ${kind.name}: ${outcome.server.source} at ${redact(outcome.server.url)}${note}\n`);
    }
    return {
      postgresUrl: postgres.server.url,
      natsUrl: nats.server.url,
      async stop() {
        await Promise.all([postgres.server.stop(), nats.server.stop()]);
      },
    };
  }
  await Promise.all([postgres, nats].map((outcome) => ('server' in outcome ? outcome.server.stop() : undefined)));
  throw new Error(
    missingServersMessage(mode, [
      [POSTGRES, postgres],
      [NATS, nats],
    ]),
  );
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

function serverSourceMode(value: string | undefined): ServerSourceMode {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'own' || value === 'docker') return value;
  throw new Error(`RATCHET_TEST_SERVERS=${value} is not one of auto, own, docker`);
}

async function obtain(
  kind: ServerKind,
  env: NodeJS.ProcessEnv,
  mode: ServerSourceMode,
  dockerCheck: () => Promise<string | undefined>,
): Promise<Outcome> {
  const tried: string[] = [];
  const passedOver: string[] = [];
  const found = (url: string, source: string): Outcome => ({ server: { url, source, stop: async () => {} }, passedOver });

  if (mode === 'auto') {
    const fromEnv = env[kind.envVar];
    if (fromEnv) {
      const ready = await waitForProbe(() => kind.probe(fromEnv), { timeoutMs: 30_000 });
      if (ready.ok) return found(fromEnv, `the server ${kind.envVar} names`);
      // The user asked for this server: using another one instead would hide the mistake.
      return { tried: [`${kind.envVar}=${redact(fromEnv)}: ${ready.reason}`] };
    }
    tried.push(`${kind.envVar}: not set`);

    const local = `127.0.0.1:${kind.defaultPort}`;
    if (await isListening('127.0.0.1', kind.defaultPort)) {
      const ready = await kind.probe(kind.defaultUrl);
      if (ready.ok) return found(kind.defaultUrl, `server already listening on ${local}`);
      tried.push(`${local}: listening, but ${ready.reason}`);
      passedOver.push(`${local}: ${ready.reason}`);
    } else {
      tried.push(`${local}: nothing listening`);
    }
  }

  if (mode === 'auto' || mode === 'own') {
    try {
      return { server: await kind.startOwn(env), passedOver };
    } catch (error) {
      tried.push(`own server: ${detail(error)}`);
      passedOver.push(`own server: ${messageOf(error)}`);
    }
  }

  if (mode === 'auto' || mode === 'docker') {
    const unreachable = await dockerCheck();
    if (unreachable) {
      tried.push(`Docker (testcontainers): ${unreachable}`);
    } else {
      try {
        return { server: await kind.startContainer(), passedOver };
      } catch (error) {
        tried.push(`Docker (testcontainers): ${detail(error)}`);
      }
    }
  }
  return { tried };
}

function missingServersMessage(mode: ServerSourceMode, outcomes: readonly (readonly [ServerKind, Outcome])[]): string {
  const missing = outcomes.filter(([, outcome]) => 'tried' in outcome);
  const lines = [`The tests need real servers and could not get ${missing.map(([kind]) => kind.name).join(' or ')}.`];
  for (const [kind, outcome] of missing) {
    lines.push(`${kind.name}, tried in order:`);
    for (const attempt of 'tried' in outcome ? outcome.tried : []) lines.push(`  - ${attempt}`);
  }
  if (mode !== 'auto') lines.push(`RATCHET_TEST_SERVERS=${mode} allowed only that source; unset it to try them all.`);
  lines.push(
    'To get servers, do one of:',
    '  - set DATABASE_URL=postgres://postgres@HOST:5432/postgres (a superuser: each test file creates its own database)',
    '    and NATS_URL=nats://HOST:4222 (a nats-server with JetStream, `-js`);',
    '  - install PostgreSQL and nats-server (Debian: `apt-get install postgresql nats-server`; macOS: `brew install postgresql nats-server`):',
    '    the tests start their own on free ports, or use the ones on 127.0.0.1:5432 and 127.0.0.1:4222;',
    '  - run a Docker engine: the tests start postgres:16 and nats:2 -js containers.',
  );
  return lines.join('\n');
}

/** An error's message for the list of attempts, its further lines (a server log) indented under it. */
function detail(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).trim().replaceAll('\n', '\n      ');
}

/** The URL with any password replaced, for logs and errors. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
