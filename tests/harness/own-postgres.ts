import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debianPostgresBinDirs, findExecutable, isExecutable } from './find-executable.ts';
import { freePort } from './free-port.ts';
import { findUnprivilegedUser, runCommand, type UnprivilegedUser } from './run-command.ts';
import type { RunningServer } from './running-server.ts';
import { probePostgres, waitForProbe } from './server-probes.ts';

/** Options of {@link startOwnPostgres}. */
export interface OwnPostgresOptions {
  /** Where `PATH` is read from. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** How long to wait for the server to accept connections. @default 30_000 */
  readonly startTimeoutMs?: number;
  /** When this process is root: the accounts to run Postgres as, the first that exists. @default ['postgres', 'nobody'] */
  readonly unprivilegedUsers?: readonly string[];
}

/** A Postgres server of the harness's own, on a temporary data directory. */
export interface OwnPostgres extends RunningServer {
  readonly port: number;
  readonly dataDir: string;
  /**
   * Stops and starts the server on the same port and data. `immediate` stops it without a
   * checkpoint, like a crash: the restart replays the WAL.
   * @default 'fast'
   */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
}

/** The `initdb` and `pg_ctl` of one PostgreSQL installation. */
export interface PostgresBinaries {
  readonly initdb: string;
  readonly pgCtl: string;
}

/** `initdb` and `pg_ctl` from one directory of PATH, else from /usr/lib/postgresql/<newest>/bin. */
export function findPostgresBinaries(env: NodeJS.ProcessEnv): PostgresBinaries | undefined {
  const initdbOnPath = findExecutable('initdb', env);
  const pgCtlOnPath = findExecutable('pg_ctl', env);
  if (initdbOnPath && pgCtlOnPath) return { initdb: initdbOnPath, pgCtl: pgCtlOnPath };
  for (const dir of debianPostgresBinDirs()) {
    const initdb = join(dir, 'initdb');
    const pgCtl = join(dir, 'pg_ctl');
    if (isExecutable(initdb) && isExecutable(pgCtl)) return { initdb, pgCtl };
  }
  return undefined;
}

const PORT_TAKEN = /could not bind|address already in use|could not create any TCP\/IP sockets/i;

/**
 * Creates a cluster with `initdb` in a temporary directory and starts it with `pg_ctl` on a free
 * port of 127.0.0.1 only: superuser `postgres`, trust authentication, fsync on. Postgres refuses to
 * run as root, so as root both run as the `postgres` account (else `nobody`) on a directory
 * chowned to it. `stop()` stops the server and deletes the directory; so does the exit of this
 * process if the caller forgot.
 *
 * @example
 * const pg = await startOwnPostgres();
 * try { await useDatabase(pg.url); } finally { await pg.stop(); }
 */
export async function startOwnPostgres(options: OwnPostgresOptions = {}): Promise<OwnPostgres> {
  const env = options.env ?? process.env;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const binaries = findPostgresBinaries(env);
  if (!binaries) throw new Error('no initdb and pg_ctl in PATH or /usr/lib/postgresql/*/bin');
  let user: UnprivilegedUser | undefined;
  if (process.getuid?.() === 0) {
    const found = findUnprivilegedUser(env, options.unprivilegedUsers);
    if ('missing' in found) throw new Error(`running as root, and Postgres refuses root: ${found.missing}`);
    user = found;
  }

  // /tmp rather than a TMPDIR that may sit under /root, where the unprivileged user cannot reach.
  const baseDir = await mkdtemp(join(user ? '/tmp' : tmpdir(), 'ratchet-pg-'));
  const dataDir = join(baseDir, 'data');
  const logFile = join(baseDir, 'postgres.log');
  const commandLine = (file: string, args: readonly string[]): [string, string[]] => (user ? user.wrap(file, args) : [file, [...args]]);
  const pgCtl = (args: readonly string[], timeoutMs: number) =>
    runCommand(...commandLine(binaries.pgCtl, args), { cwd: baseDir, timeoutMs, env: serverEnv(env) });
  const waitSeconds = String(Math.ceil(startTimeoutMs / 1000));
  const logTail = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n') : '(no log)');

  let port = 0;
  let running = false;
  const stopNow = () => {
    if (!running) return;
    running = false;
    spawnSync(...commandLine(binaries.pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '10']), {
      cwd: baseDir,
      stdio: 'ignore',
    });
  };
  const onExit = () => {
    stopNow();
    rmSync(baseDir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  try {
    if (user) await chown(baseDir, user.uid, user.gid);
    // --no-sync skips only the final flush of the fresh cluster's files; the server runs with fsync on.
    await runCommand(
      ...commandLine(binaries.initdb, ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync']),
      {
        cwd: baseDir,
        timeoutMs: 120_000,
        env: serverEnv(env),
      },
    );
    await appendFile(
      join(dataDir, 'postgresql.conf'),
      [
        '',
        '# Ratchet test harness (tests/harness/own-postgres.ts): loopback only, durable commits.',
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${baseDir}'`,
        'fsync = on',
        'synchronous_commit = on',
        'full_page_writes = on',
        'max_connections = 200',
        '',
      ].join('\n'),
    );
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      await rm(logFile, { force: true });
      try {
        running = true;
        await pgCtl(['start', '-D', dataDir, '-l', logFile, '-w', '-t', waitSeconds, '-o', `-p ${port}`], startTimeoutMs + 10_000);
        break;
      } catch (error) {
        running = existsSync(join(dataDir, 'postmaster.pid'));
        if (attempt < 3 && !running && PORT_TAKEN.test(logTail())) continue;
        throw new Error(`${error instanceof Error ? error.message : String(error)}\nserver log ${logFile}:\n${logTail()}`);
      }
    }
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const ready = await waitForProbe(() => probePostgres(url), { timeoutMs: startTimeoutMs });
    if (!ready.ok) throw new Error(`started on port ${port} but ${ready.reason}\nserver log:\n${logTail()}`);

    return {
      url,
      port,
      dataDir,
      source: `own server (${binaries.pgCtl}${user ? `, run as user ${user.name}` : ''}, data in ${dataDir})`,
      async restart(mode = 'fast') {
        await rm(logFile, { force: true });
        running = true;
        await pgCtl(
          ['restart', '-D', dataDir, '-m', mode, '-l', logFile, '-w', '-t', waitSeconds, '-o', `-p ${port}`],
          startTimeoutMs + 10_000,
        );
        const again = await waitForProbe(() => probePostgres(url), { timeoutMs: startTimeoutMs });
        if (!again.ok) throw new Error(`Postgres on port ${port} did not come back: ${again.reason}\n${logTail()}`);
      },
      async stop() {
        process.off('exit', onExit);
        if (running) {
          running = false;
          await pgCtl(['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30'], 40_000).catch(() => {
            running = true;
            stopNow();
          });
        }
        await rm(baseDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    process.off('exit', onExit);
    onExit();
    throw error;
  }
}

/** The environment for initdb and pg_ctl, without PG* variables that would point them elsewhere. */
function serverEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) if (!key.startsWith('PG')) clean[key] = value;
  return clean;
}
