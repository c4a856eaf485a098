import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { findExecutable } from './find-executable.ts';

const SYSTEM_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** Runs a program to completion; rejects with its output in the message when it fails or times out. */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { readonly cwd: string; readonly timeoutMs: number; readonly env?: NodeJS.ProcessEnv },
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, env: options.env, timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (!error) return resolve(`${stdout}${stderr}`);
        const output = `${stdout}${stderr}`.trim();
        const why = error.killed ? `timed out after ${options.timeoutMs} ms` : `exited with ${error.signal ?? `code ${error.code}`}`;
        reject(new Error(`${[file, ...args].join(' ')}: ${why}${output ? `\n${output}` : ''}`));
      },
    );
  });
}

/** An unprivileged account to run a program as, when this process is root and the program refuses root. */
export interface UnprivilegedUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** The command line that runs `file args` as this user (`runuser -u`, else `su -s /bin/sh -c`). */
  wrap(file: string, args: readonly string[]): [string, string[]];
}

/**
 * The first of `candidates` that exists in /etc/passwd, with a way to run programs as it.
 * Returns undefined (with the reason) when no such account or neither `runuser` nor `su` exists.
 */
export function findUnprivilegedUser(
  env: NodeJS.ProcessEnv,
  candidates: readonly string[] = ['postgres', 'nobody'],
): UnprivilegedUser | { readonly missing: string } {
  let passwd: string;
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch (error) {
    return { missing: `cannot read /etc/passwd (${String(error)})` };
  }
  const accounts = new Map<string, { uid: number; gid: number }>();
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name && uid && gid) accounts.set(name, { uid: Number(uid), gid: Number(gid) });
  }
  const name = candidates.find((candidate) => accounts.has(candidate));
  const account = name === undefined ? undefined : accounts.get(name);
  if (name === undefined || !account) return { missing: `none of the accounts ${candidates.join(', ')} exists` };
  const runuser = findExecutable('runuser', env, SYSTEM_DIRS);
  const su = findExecutable('su', env, SYSTEM_DIRS);
  if (!runuser && !su) return { missing: 'neither runuser nor su is installed' };
  return {
    name,
    uid: account.uid,
    gid: account.gid,
    wrap(file, args) {
      if (runuser) return [runuser, ['-u', name, '--', file, ...args]];
      return [su as string, ['-s', '/bin/sh', name, '-c', [file, ...args].map(shellQuote).join(' ')]];
    },
  };
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
