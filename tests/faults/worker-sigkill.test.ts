import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepFailed } from '@ratchet/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sideEffects } from '../fixtures/side-effect-workflows.ts';
import { type Stack, startStack } from '../harness/index.ts';

const root = new URL('../..', import.meta.url).pathname;

/** A `ratchet worker` process on the stack's NATS subjects. */
function spawnWorker(stack: Stack, name: string): ChildProcess {
  return spawn(
    process.execPath,
    [join(root, 'engine/bin/ratchet.mjs'), 'worker', '--workflows', join(root, 'tests/fixtures/side-effect-workflows.ts')],
    { env: { ...process.env, ...stack.env, RATCHET_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'inherit', 'inherit'] },
  ).once('error', (error) => {
    throw new Error(`worker ${name} did not start: ${error.message}`);
  });
}

const lines = async (file: string) =>
  (await readFile(file, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [step, attempt, pid] = line.split(' ');
      return { step, attempt: Number(attempt), pid: Number(pid) };
    });

describe('a worker process killed mid-step (postgres+nats)', () => {
  let stack: Stack;
  let dir: string;
  const workers: ChildProcess[] = [];
  beforeAll(async () => {
    stack = await startStack('postgres+nats');
    dir = await mkdtemp(join(tmpdir(), 'ratchet-sigkill-'));
    workers.push(spawnWorker(stack, 'a'), spawnWorker(stack, 'b'));
  });
  afterAll(async () => {
    for (const worker of workers) worker.kill('SIGKILL');
    await stack.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is finished by the other worker; completed steps never run again and the killed attempt is recorded', async () => {
    const file = join(dir, 'effects.log');
    const job = await stack.client.start(sideEffects, { file, steps: 6, slowStep: 4, slowMs: 3000 });
    await expect.poll(async () => (await lines(file)).some((l) => l.step === 'step-4'), { timeout: 20_000 }).toBe(true);
    const victim = (await lines(file)).find((l) => l.step === 'step-4')?.pid as number;
    process.kill(victim, 'SIGKILL');
    const killedAt = Date.now();

    const output = (await job.result({ timeout: '20s' })) as string[];
    expect(output).toHaveLength(6);
    const effects = await lines(file);
    const runs = (step: string) => effects.filter((l) => l.step === step);
    for (const step of ['step-1', 'step-2', 'step-3']) expect(runs(step)).toHaveLength(1);
    expect(runs('step-4').map((l) => l.attempt)).toEqual([1, 2]);
    expect(runs('step-4')[1]?.pid).not.toBe(victim);
    expect(runs('step-5')).toHaveLength(1);
    expect(runs('step-6')).toHaveLength(1);
    expect(output[3]).not.toContain(String(victim));

    const history = await stack.store.read(job.jobId);
    const lost = history.map((e) => e.event).find((e): e is StepFailed => e.type === 'StepFailed');
    expect(lost).toMatchObject({ stepId: 3, attempt: 1, final: false, failure: { name: 'WorkerLostError' } });
    // Fast failover: the other worker took the job over within a second of the kill (the task's
    // ack wait, the worker default of 600 ms, is the heartbeat deadline).
    const claimed = history.find((e) => e.event.type === 'JobClaimed');
    expect(claimed).toBeDefined();
    expect((claimed?.recordedAt ?? 0) - killedAt).toBeLessThan(1000);
  });
});
