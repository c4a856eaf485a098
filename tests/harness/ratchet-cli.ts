import { execFile } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

/** The `ratchet` command's entry. */
export const ratchetBin = join(root, 'engine/bin/ratchet.mjs');

/** Runs `ratchet <args>` to its end; resolves with its exit code and output instead of throwing. */
export function ratchet(
  args: readonly string[],
  env: Record<string, string> = {},
  options: { readonly cwd?: string; readonly timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [ratchetBin, ...args],
      { env: { ...process.env, ...env }, cwd: options.cwd ?? root, timeout: options.timeoutMs ?? 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
