import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectToEngine } from '../../engine/bin/cli/engine-connection.ts';
import { ratchet, ratchetBin } from '../harness/index.ts';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;
const helloModule = join(fixtures, 'cli-dev-workflows.ts');
// Job commands reach `ratchet dev` through the data dir only when NATS_URL is not set.
const env = { NATS_URL: '', RATCHET_LOG_LEVEL: 'warn' };

/** Starts `ratchet dev` and resolves once it serves (its web UI line), with what it printed so far. */
async function startDev(args: string[]): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [ratchetBin, 'dev', '--quiet', '--http-port', '0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ratchet dev did not serve within 40 s:\n${output}`)), 40_000);
    const check = () => {
      if (output.includes('web UI and HTTP API on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ratchet dev exited with ${code}:\n${output}`));
    });
  });
  return { child, output: () => output };
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', resolve));
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await exited(child);
  return child.pid as number;
}

describe("ratchet dev's data dir", () => {
  let root: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ratchet-dev-dir-'));
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited(child);
    }
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('refuses a second ratchet dev on the same data dir, and job commands reach the running one', async () => {
    const dir = join(root, 'shared');
    const first = await startDev(['--workflows', helloModule, '--data-dir', dir]);
    children.push(first.child);

    const second = await ratchet(['dev', '--quiet', '--http-port', '0', '--workflows', helloModule, '--data-dir', dir], env);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`data dir ${dir} is in use by ratchet dev pid ${first.child.pid}`);
    expect(second.stdout).not.toContain('web UI');

    // Through the running dev (its HTTP endpoint), not by opening its log a second time.
    const started = await ratchet(['start', 'hello', '--input', '{"name":"Bo"}', '--job-id', 'lock-1', '--wait', '--data-dir', dir], env);
    expect(started, started.stderr).toMatchObject({ code: 0 });
    expect(started.stdout).toContain('"hello, Bo"');

    first.child.kill('SIGINT');
    expect(await exited(first.child)).toBe(0);
    expect(existsSync(join(dir, 'lock.json'))).toBe(false);
    expect(existsSync(join(dir, 'dev.json'))).toBe(false);

    // The job is in the log, read now by opening it here (no dev runs), which takes the lock and gives it back.
    const status = await ratchet(['status', 'lock-1', '--json', '--data-dir', dir], env);
    expect(status, status.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(status.stdout)).toMatchObject({ jobId: 'lock-1', status: 'completed', output: 'hello, Bo' });
    expect(existsSync(join(dir, 'lock.json'))).toBe(false);
  }, 90_000);

  it('checks a start made while no dev runs against the workflows dev served last, and refuses to wait for it', async () => {
    const dir = join(root, 'offline');
    const dev = await ratchet(['dev', '--quiet', '--http-port', '0', '--main', '--workflows', helloModule, '--data-dir', dir], env);
    expect(dev, dev.stderr).toMatchObject({ code: 0 });

    const typo = await ratchet(['start', 'helo', '--job-id', 'typo-1', '--data-dir', dir], env);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain(
      `no workflow "helo" in ${helloModule}, which \`ratchet dev\` last ran in ${dir} (its workflows: hello); the job would never run`,
    );
    const waiting = await ratchet(['start', 'hello', '--job-id', 'wait-1', '--wait', '--data-dir', dir], env);
    expect(waiting.code).toBe(1);
    expect(waiting.stderr).toContain(`--wait needs a running engine: no \`ratchet dev\` runs in ${dir}`);
    for (const jobId of ['typo-1', 'wait-1']) {
      const status = await ratchet(['status', jobId, '--data-dir', dir], env);
      expect(status.code, `${jobId} must not exist`).toBe(1);
      expect(status.stderr).toContain(`no job ${jobId}`);
    }

    // A known workflow is recorded now and runs once dev is back.
    const later = await ratchet(['start', 'hello', '--input', '{"name":"Cy"}', '--job-id', 'later-1', '--data-dir', dir], env);
    expect(later, later.stderr).toMatchObject({ code: 0, stdout: 'later-1\n' });
    const back = await startDev(['--workflows', helloModule, '--data-dir', dir]);
    children.push(back.child);
    const attached = await ratchet(['start', 'hello', '--job-id', 'later-1', '--wait', '--data-dir', dir], env);
    expect(attached, attached.stderr).toMatchObject({ code: 0 });
    expect(attached.stdout).toBe('later-1 (existing job)\n"hello, Cy"\n');
  }, 90_000);

  it('takes over the lock of a process that is gone', async () => {
    const dir = join(root, 'stale');
    await mkdir(dir, { recursive: true });
    const pid = await deadPid();
    await writeFile(join(dir, 'lock.json'), JSON.stringify({ pid, command: 'ratchet dev' }));
    const run = await ratchet(['dev', '--quiet', '--http-port', '0', '--main', '--workflows', helloModule, '--data-dir', dir], env);
    // The module exports one workflow twice (`export default hello`): it loads, as one workflow.
    expect(run, run.stderr).toMatchObject({ code: 0 });
    expect(run.stdout).toMatch(/hello job \S+: hello, Ada/);
    expect(existsSync(join(dir, 'lock.json'))).toBe(false);
  }, 60_000);

  it('never opens the log while another live process holds the lock', async () => {
    const dir = join(root, 'held');
    await mkdir(join(dir, 'pgdata'), { recursive: true });
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    children.push(holder);
    const lock = JSON.stringify({ pid: holder.pid, command: 'ratchet dev' });
    await writeFile(join(dir, 'lock.json'), lock);
    await expect(connectToEngine({ natsUrl: undefined, dataDir: dir, prefix: 'ratchet', lockWaitMs: 300 })).rejects.toThrow(
      `data dir ${dir} is in use by ratchet dev pid ${holder.pid}`,
    );
    expect(await readFile(join(dir, 'lock.json'), 'utf8')).toBe(lock);
    const dev = await ratchet(['dev', '--quiet', '--http-port', '0', '--workflows', helloModule, '--data-dir', dir], env);
    expect(dev.code).toBe(1);
    expect(dev.stderr).toContain(`data dir ${dir} is in use by ratchet dev pid ${holder.pid}`);
  });

  it('refuses --main of a module without main before starting anything', async () => {
    const dir = join(root, 'no-main');
    const run = await ratchet(['dev', '--main', '--workflows', join(fixtures, 'cli-workflows.ts'), '--data-dir', dir], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${join(fixtures, 'cli-workflows.ts')} exports no main function to run`);
    expect(run.stdout).not.toContain('web UI');
    for (const left of ['dev.json', 'lock.json', 'pgdata']) expect(existsSync(join(dir, left)), left).toBe(false);
  });

  it('names the module, the file and the line of a syntax error in it', async () => {
    const broken = join(root, 'broken-workflows.ts');
    await writeFile(broken, "import { defineWorkflow } from '@ratchet/sdk';\nexport const total = 1 +;\n");
    const run = await ratchet(['dev', '--workflows', broken, '--data-dir', join(root, 'broken')], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`ratchet: could not load the workflows module ${broken}: SyntaxError: Expression expected\n${broken}:2\n`);
    expect(run.stderr).toContain('export const total = 1 +;');
  });

  it('refuses a module with two different workflows of one name', async () => {
    const twins = join(fixtures, 'cli-twin-workflows.ts');
    const run = await ratchet(['dev', '--workflows', twins, '--data-dir', join(root, 'twins')], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${twins} exports two different workflows named "twin" (exported as first and as second)`);
  });

  it('stops what it started when it fails after opening the log, so the next start finds the log intact', async () => {
    const dir = join(root, 'port-taken');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as { port: number }).port;
      const run = await ratchet(['dev', '--quiet', '--http-port', String(port), '--workflows', helloModule, '--data-dir', dir], env);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('EADDRINUSE');
      expect(existsSync(join(dir, 'pgdata'))).toBe(true);
      for (const left of ['dev.json', 'lock.json']) expect(existsSync(join(dir, left)), left).toBe(false);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    const again = await ratchet(['dev', '--quiet', '--http-port', '0', '--main', '--workflows', helloModule, '--data-dir', dir], env);
    expect(again, again.stderr).toMatchObject({ code: 0 });
    expect(again.stdout).toMatch(/hello job \S+: hello, Ada/);
  }, 60_000);
});
