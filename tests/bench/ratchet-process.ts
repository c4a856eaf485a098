import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Cleanup } from './cleanup.ts';
import type { LogCapture } from './log-capture.ts';
import { within } from './stats.ts';

/** A `ratchet engine` or `ratchet worker` child process. */
export interface RatchetProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resident set size now, from /proc (undefined once it has exited). */
  rssBytes(): number | undefined;
  /** SIGTERM (a graceful stop), then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnRatchetOptions {
  readonly root: string;
  readonly name: string;
  /** `['engine']` or `['worker', '--workflows', …]`. */
  readonly args: readonly string[];
  /** DATABASE_URL, NATS_URL, RATCHET_PREFIX. */
  readonly env: Readonly<Record<string, string>>;
  readonly cleanup: Cleanup;
  /** Where its warnings and errors go. */
  readonly logs: LogCapture;
  /** @default 30_000 */
  readonly readyTimeoutMs?: number;
}

const READY = /"msg":"(engine|worker) started"/;

/** The Node flags a worker process is deployed with (README, "Deploying workers"). */
export const WORKER_NODE_FLAGS = process.env.RATCHET_BENCH_WORKER_FLAGS ?? '--max-semi-space-size=4';

/**
 * Spawns `node engine/bin/ratchet.mjs <args>` (like tests/faults/worker-sigkill.test.ts) at log
 * level info, and resolves once it logs "engine started" / "worker started". Its log lines at
 * warn and above (and anything that is not a pino line, such as a crash) go to `logs`.
 */
export async function spawnRatchet(options: SpawnRatchetOptions): Promise<RatchetProcess> {
  // Worker processes run as the README recommends deploying them (Deploying workers): with a
  // young generation of 4 MB semi-spaces instead of the up to 32 MB V8 picks on a large machine.
  const nodeFlags = options.args[0] === 'worker' ? [WORKER_NODE_FLAGS] : [];
  const child = spawn(process.execPath, [...nodeFlags, join(options.root, 'engine/bin/ratchet.mjs'), ...options.args], {
    env: { ...process.env, ...options.env, RATCHET_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  options.cleanup.track(child);
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`${options.name} did not start: ${error.message}`)));
    child.once('exit', (code, signal) => reject(new Error(`${options.name} exited (${signal ?? `code ${code}`}) before it was ready`)));
  });
  exited.catch(() => {});
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      if (READY.test(line)) markReady();
      const level = /^\{"level":(\d+)/.exec(line)?.[1];
      if (level === undefined || Number(level) >= 40) options.logs.record(options.name, line);
    });
  }
  try {
    await within(`${options.name} start`, options.readyTimeoutMs ?? 30_000, Promise.race([ready, exited]));
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const pid = child.pid as number;
  return {
    name: options.name,
    pid,
    child,
    rssBytes: () => rssOf(pid),
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** VmRSS of a process from /proc/<pid>/status, in bytes. */
export function rssOf(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}
