import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteStreams, type TestDatabase, testDatabase, testNats } from '../harness/index.ts';

const root = new URL('../..', import.meta.url).pathname;
const ratchetBin = join(root, 'engine/bin/ratchet.ts');
const run = promisify(execFile);

/** Runs `ratchet <args>`; resolves with its exit code and output instead of throwing. */
async function ratchet(args: string[], env: Record<string, string>, cwd = root) {
  try {
    const { stdout, stderr } = await run(process.execPath, [ratchetBin, ...args], {
      env: { ...process.env, ...env },
      cwd,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the ratchet CLI against real Postgres and NATS', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  const processes: ChildProcess[] = [];
  beforeAll(async () => {
    database = await testDatabase();
    const nats = testNats();
    env = { DATABASE_URL: database.url, NATS_URL: nats.url, RATCHET_PREFIX: nats.prefix, RATCHET_LOG_LEVEL: 'warn' };
    const spawnRatchet = (args: string[]) =>
      spawn(process.execPath, [ratchetBin, ...args], { env: { ...process.env, ...env }, stdio: 'inherit' });
    processes.push(spawnRatchet(['engine']), spawnRatchet(['worker', '--workflows', join(root, 'tests/fixtures/cli-workflows.ts')]));
  });
  afterAll(async () => {
    for (const child of processes) child.kill('SIGTERM');
    await Promise.all(
      processes.map((child) => new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)))),
    );
    await deleteStreams(env.NATS_URL as string, env.RATCHET_PREFIX as string);
    await database.drop();
  });

  it('starts a job and waits for it, then shows its status and history', async () => {
    let started = await ratchet(['start', 'greet', '--input', '{"name":"Ada"}', '--job-id', 'cli-greet-1', '--wait'], env);
    // The engine process may still be starting: retry until it answers.
    for (let i = 0; i < 40 && started.code !== 0 && /no responders/.test(started.stderr); i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      started = await ratchet(['start', 'greet', '--input', '{"name":"Ada"}', '--job-id', 'cli-greet-1', '--wait'], env);
    }
    expect(started).toMatchObject({ code: 0 });
    expect(started.stdout).toContain('cli-greet-1');
    expect(started.stdout).toContain('"HELLO, ADA"');

    const status = await ratchet(['status', 'cli-greet-1', '--json'], env);
    expect(JSON.parse(status.stdout)).toMatchObject({ jobId: 'cli-greet-1', status: 'completed', output: 'HELLO, ADA', workflow: 'greet' });
    expect((await ratchet(['status', 'cli-greet-1'], env)).stdout).toMatch(/status\s+completed/);

    const history = JSON.parse((await ratchet(['history', 'cli-greet-1', '--json'], env)).stdout) as {
      seq: number;
      type: string;
      step?: string;
      attempt?: number;
      time: string;
    }[];
    expect(history.map((row) => [row.seq, row.type, row.step, row.attempt])).toEqual([
      [1, 'JobStarted', undefined, undefined],
      [2, 'StepStarted', 'compose', 1],
      [3, 'StepCompleted', 'compose', 1],
      [4, 'StepStarted', 'shout', 1],
      [5, 'StepCompleted', 'shout', 1],
      [6, 'JobCompleted', undefined, undefined],
    ]);
    expect(Number.isNaN(Date.parse(history[0]?.time ?? ''))).toBe(false);
    const table = (await ratchet(['history', 'cli-greet-1'], env)).stdout;
    expect(table.split('\n')[0]).toMatch(/^seq\s+time\s+type\s+step\s+attempt\s+error/);
    expect(table).toMatch(/StepCompleted\s+shout\s+1/);

    // Time travel: the state after seq 3 (the first step completed), filters, export.
    const atThree = JSON.parse((await ratchet(['state', 'cli-greet-1', '--at', '3'], env)).stdout);
    expect(atThree).toMatchObject({
      status: 'running',
      lastSeq: 3,
      journal: [{ kind: 'step', name: 'compose', status: 'completed', output: 'Hello, Ada' }],
    });
    expect((await ratchet(['state', 'cli-greet-1', '--at', '99'], env)).stderr).toContain('--at must be a seq from 1 to 6, got 99');
    const shout = JSON.parse((await ratchet(['history', 'cli-greet-1', '--json', '--step', 'shout'], env)).stdout) as { type: string }[];
    expect(shout.map((row) => row.type)).toEqual(['StepStarted', 'StepCompleted']);
    const exported = JSON.parse((await ratchet(['export', 'cli-greet-1'], env)).stdout);
    expect(exported).toMatchObject({ format: 'ratchet-history', version: 1, jobId: 'cli-greet-1' });
    expect(exported.events).toHaveLength(6);

    const replayed = await ratchet(['replay', 'cli-greet-1', '--workflows', join(root, 'tests/fixtures/cli-workflows.ts')], env);
    expect(replayed).toMatchObject({ code: 0 });
    expect(replayed.stdout).toContain('deterministic: the code made all 2 recorded calls of job cli-greet-1');

    const again = await ratchet(['start', 'greet', '--input', '{"name":"Bob"}', '--job-id', 'cli-greet-1'], env);
    expect(again.stdout.trim()).toBe('cli-greet-1 (existing job)');
  });

  it('verifies running jobs against new code before a deploy', async () => {
    const parked = await ratchet(['start', 'waiter', '--input', '{}', '--job-id', 'cli-waiter-1'], env);
    expect(parked.code).toBe(0);
    // Wait until it parks on its sleep.
    for (let i = 0; i < 40 && !(await ratchet(['history', 'cli-waiter-1'], env)).stdout.includes('TimerStarted'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const same = await ratchet(['verify', '--workflows', join(root, 'tests/fixtures/cli-workflows.ts')], env);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/1 running job replayed in .*: all deterministic/);
    const changed = await ratchet(['verify', '--workflows', join(root, 'tests/fixtures/cli-workflows-changed.ts')], env);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toContain(
      'would break: cli-waiter-1: at position 0 the log has step("prepare") but the code calls step("announce")',
    );
    expect(changed.stdout).toContain('1 would break');
  });

  it('lets an operator trip, list and reset a breaker', async () => {
    const tripped = await ratchet(['breaker', 'trip', 'payments', '--for', '10m'], env);
    expect(tripped.code).toBe(0);
    expect(tripped.stdout).toMatch(/payments\s+open until/);
    expect((await ratchet(['breaker', 'list'], env)).stdout).toMatch(/payments\s+open/);
    expect((await ratchet(['breaker', 'reset', 'payments'], env)).stdout).toMatch(/payments\s+closed/);
    const unknown = await ratchet(['breaker', 'reset', 'nope'], env);
    expect(unknown.stderr).toContain('UnknownBreakerError: no breaker "nope"');
  });

  it('reports bad input with a clear message and a failing exit code', async () => {
    const badJson = await ratchet(['start', 'greet', '--input', '{name'], env);
    expect(badJson.code).toBe(1);
    expect(badJson.stderr).toContain('--input is not valid JSON');
    const unknown = await ratchet(['start', 'no-such-workflow', '--input', '{}'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('UnknownWorkflowError: no running worker has workflow "no-such-workflow" (known: greet, waiter)');
    const missing = await ratchet(['status', 'no-such-job'], env);
    expect(missing.stderr).toContain('JobNotFoundError: no job no-such-job');
    const usage = await ratchet(['frobnicate'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('unknown command "frobnicate"');
  });
});

describe('ratchet dev --main (the main job of npm start)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratchet-dev-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('runs the order job to completion, resuming it after an interruption mid-job', async () => {
    const args = ['dev', '--workflows', join(root, 'sdk/examples/orders.ts'), '--main', '--data-dir', dir];
    // First run: interrupted (SIGINT) as soon as the payment step has started.
    const first = spawn(process.execPath, [ratchetBin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no payment step within 30 s:\n${output}`)), 30_000);
      first.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (/StepStarted\s+charge-card/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    // The web UI and HTTP API answer at the address it printed, while the job runs.
    const ui = /web UI and HTTP API on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1];
    expect(ui, output).toBeDefined();
    const listed = (await (await fetch(`${ui}api/jobs`)).json()) as { jobs: { workflow: string }[] };
    expect(listed.jobs.map((job) => job.workflow)).toContain('process-order');
    expect(await (await fetch(`${ui}`)).text()).toContain('<title>Ratchet</title>');
    first.kill('SIGINT');
    await new Promise((resolve) => first.once('exit', resolve));
    const jobId = (await readFile(join(dir, 'current-order'), 'utf8')).trim();
    expect(output).toContain(`started order job ${jobId}`);

    // Second run: the same job resumes and completes.
    const second = await ratchet(args, {});
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`resuming order job ${jobId} from its log`);
    expect(second.stdout).toContain(`order job ${jobId} completed`);

    const history = JSON.parse((await ratchet(['history', jobId, '--json', '--data-dir', dir], {})).stdout) as {
      type: string;
      step?: string;
      attempt?: number;
      error?: string;
    }[];
    const charge = history.filter((row) => row.step === 'charge-card' && row.type === 'StepStarted');
    expect(charge.map((row) => row.attempt)).toEqual([1, 2, 3]);
    expect(history.filter((row) => row.step === 'reserve-stock' && row.type === 'StepStarted')).toHaveLength(1);
    expect(history.some((row) => row.type === 'TimerFired')).toBe(true);
    expect(history.some((row) => row.step === 'ship' && row.error?.startsWith('WorkerLostError'))).toBe(true);
    expect(history.at(-1)?.type).toBe('JobCompleted');
  }, 60_000);
});
