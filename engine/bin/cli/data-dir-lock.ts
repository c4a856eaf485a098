import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/**
 * The file that says which process has a data dir's PGlite log open. PGlite does not lock its
 * directory: two processes that open it each write their own copy, and the one that closes last
 * wins, silently dropping everything the other wrote.
 */
export const LOCK_FILE = 'lock.json';

/** Who holds a data dir: its pid and the command it runs (`ratchet dev`, `ratchet status`, …). */
export interface LockHolder {
  readonly pid: number;
  readonly command: string;
}

/** A lock this process holds; `release` removes the file (once). */
export interface DataDirLock {
  release(): Promise<void>;
}

/** The data dir is locked by another live process. */
export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';
  readonly holder: LockHolder;
  constructor(dataDir: string, holder: LockHolder) {
    super(`data dir ${dataDir} is in use by ${holder.command} pid ${holder.pid}`);
    this.holder = holder;
  }
}

// A lock file that holds this process's own pid is a stale one from an earlier process that had
// the same pid (in a container, the same few pids come back on every start), unless this process
// took it itself.
const heldHere = new Set<string>();

/**
 * A file created empty and never written (its process died in between) is stale after this long;
 * a younger one is still being written.
 */
const UNWRITTEN_STALE_MS = 2000;

/**
 * Takes the data dir's lock: creates `<dataDir>/lock.json` exclusively (`O_EXCL`) with this
 * process's pid. A lock whose process is gone is taken over. Throws {@link DataDirInUseError}
 * when a live process holds it.
 */
export async function lockDataDir(dataDir: string, command: string): Promise<DataDirLock> {
  const path = resolve(join(dataDir, LOCK_FILE));
  const mine = JSON.stringify({ pid: process.pid, command } satisfies LockHolder);
  for (;;) {
    try {
      const file = await open(path, 'wx');
      try {
        await file.writeFile(mine);
      } finally {
        await file.close();
      }
      heldHere.add(path);
      let released: Promise<void> | undefined;
      return {
        release: () => {
          released ??= releaseLock(path, mine);
          return released;
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const found = await readLock(path);
    if (found === undefined) continue; // released in between: try again
    if (found.holder !== undefined && alive(found.holder.pid, path)) throw new DataDirInUseError(dataDir, found.holder);
    if (found.holder === undefined && found.ageMs < UNWRITTEN_STALE_MS) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      continue;
    }
    await takeOver(path, found.text);
  }
}

/** The live process that holds the data dir's lock, if any. */
export async function lockHolder(dataDir: string): Promise<LockHolder | undefined> {
  const path = resolve(join(dataDir, LOCK_FILE));
  const found = await readLock(path);
  return found?.holder !== undefined && alive(found.holder.pid, path) ? found.holder : undefined;
}

async function readLock(path: string): Promise<{ text: string; holder: LockHolder | undefined; ageMs: number } | undefined> {
  let text: string;
  let ageMs: number;
  try {
    [text, ageMs] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => Date.now() - s.mtimeMs)]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return { text, holder: parseHolder(text), ageMs };
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (Number.isSafeInteger(value.pid) && (value.pid as number) > 0 && typeof value.command === 'string') return value as LockHolder;
  } catch {}
  return undefined;
}

function alive(pid: number, path: string): boolean {
  if (pid === process.pid) return heldHere.has(path);
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes a stale lock so the next exclusive create can win. Two processes may find the same
 * stale lock: a plain unlink could then remove the lock the faster one has just created. Instead
 * the file is moved aside (atomic: one mover gets each file) and checked; a lock that turns out
 * not to be the stale one is put back where it was (`link` fails rather than overwrite a newer one).
 */
async function takeOver(path: string, staleText: string): Promise<void> {
  const aside = `${path}.${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // another process moved it first
    throw error;
  }
  try {
    if ((await readFile(aside, 'utf8')) !== staleText) {
      await link(aside, path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    }
  } finally {
    await rm(aside, { force: true });
  }
}

async function releaseLock(path: string, mine: string): Promise<void> {
  heldHere.delete(path);
  // Only our own lock: never one that another process took over (after a wrong staleness guess).
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === mine) await rm(path, { force: true });
}
