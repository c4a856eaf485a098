import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from './find-executable.ts';
import { freePort } from './free-port.ts';
import type { RunningServer } from './running-server.ts';
import { probeNatsJetStream, waitForProbe } from './server-probes.ts';

/** Options of {@link startOwnNats}. */
export interface OwnNatsOptions {
  /** Where `PATH` is read from. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** How long to wait for JetStream to answer. @default 30_000 */
  readonly startTimeoutMs?: number;
}

/** A nats-server of the harness's own, with JetStream on a temporary store directory. */
export interface OwnNats extends RunningServer {
  readonly port: number;
  readonly storeDir: string;
  /**
   * Stops the server (SIGTERM, or SIGKILL like a crash) and starts it again on the same port and
   * store.
   * @default 'SIGTERM'
   */
  restart(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

/** `nats-server` from PATH, else from the places Debian packages and release tarballs put it. */
export function findNatsServer(env: NodeJS.ProcessEnv): string | undefined {
  return findExecutable('nats-server', env, ['/usr/sbin', '/usr/local/bin', '/usr/bin']);
}

const PORT_TAKEN = /address already in use|can't listen|error listening/i;

/**
 * Starts `nats-server -js -a 127.0.0.1 -p <free port> -sd <temporary dir>` and waits until
 * JetStream answers. `stop()` stops it and deletes the directory; so does the exit of this process
 * if the caller forgot.
 *
 * @example
 * const nats = await startOwnNats();
 * try { await useNats(nats.url); } finally { await nats.stop(); }
 */
export async function startOwnNats(options: OwnNatsOptions = {}): Promise<OwnNats> {
  const env = options.env ?? process.env;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const binary = findNatsServer(env);
  if (!binary) throw new Error('no nats-server in PATH, /usr/sbin or /usr/local/bin');
  const baseDir = await mkdtemp(join(tmpdir(), 'ratchet-nats-'));
  const storeDir = join(baseDir, 'jetstream');
  const logFile = join(baseDir, 'nats-server.log');
  const logTail = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n') : '(no log)');

  let port = 0;
  let child: ChildProcess | undefined;
  let exited: string | undefined;
  const launch = () => {
    const log = openSync(logFile, 'w');
    try {
      exited = undefined;
      const started = spawn(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], {
        cwd: baseDir,
        stdio: ['ignore', log, log],
      });
      started.unref();
      started.once('error', (error) => {
        exited = `could not run ${binary}: ${error.message}`;
      });
      started.once('exit', (code, signal) => {
        exited = `nats-server exited (${signal ?? `code ${code}`})`;
      });
      child = started;
    } finally {
      closeSync(log);
    }
  };
  const waitReady = () => waitForProbe(() => probeNatsJetStream(url(), 2_000), { timeoutMs: startTimeoutMs, giveUp: () => exited });
  const url = () => `nats://127.0.0.1:${port}`;
  const kill = async (signal: 'SIGTERM' | 'SIGKILL') => {
    const running = child;
    child = undefined;
    if (!running || exited) return;
    const gone = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    const timer = setTimeout(() => running.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };
  const onExit = () => {
    if (child && !exited) child.kill('SIGKILL');
    rmSync(baseDir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  try {
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      launch();
      const ready = await waitReady();
      if (ready.ok) break;
      await kill('SIGKILL');
      if (attempt < 3 && PORT_TAKEN.test(logTail())) continue;
      throw new Error(`${binary} on port ${port}: ${ready.reason}\nserver log ${logFile}:\n${logTail()}`);
    }
  } catch (error) {
    process.off('exit', onExit);
    await kill('SIGKILL');
    await rm(baseDir, { recursive: true, force: true });
    throw error;
  }

  return {
    url: url(),
    port,
    storeDir,
    source: `own server (${binary}, store in ${storeDir})`,
    async restart(signal = 'SIGTERM') {
      await kill(signal);
      launch();
      const ready = await waitReady();
      if (!ready.ok) throw new Error(`nats-server on port ${port} did not come back: ${ready.reason}\n${logTail()}`);
    },
    async stop() {
      process.off('exit', onExit);
      await kill('SIGTERM');
      await rm(baseDir, { recursive: true, force: true });
    },
  };
}
