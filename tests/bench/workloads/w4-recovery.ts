import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobClaimed, JobCompleted, StepFailed } from '@ratchet/protocol';
import { type BenchContext, progress } from '../context.ts';
import { type InProcessStack, startInProcessStack } from '../in-process-stack.ts';
import { type RatchetProcess, spawnRatchet } from '../ratchet-process.ts';
import { type ResultRow, resultRow } from '../report.ts';
import { now, pollUntil } from '../stats.ts';
import { recovery } from '../workflows.ts';

const STEPS = 20;
const STEP_MS = 50;
const KILL_DURING = 11;
/** Step 11 runs again from its start, then steps 12–20: ten steps' work remains after the kill. */
const REMAINING_WORK_MS = (STEPS - KILL_DURING + 1) * STEP_MS;

interface RecoveryRun {
  readonly beyondWorkMs: number;
  readonly killToClaimMs: number | undefined;
  readonly problems: readonly string[];
}

/**
 * W4: the engine in this process, two `ratchet worker` processes; a job of 20 steps of 50 ms;
 * SIGKILL the worker process that runs step 11, as soon as the step has begun. Measured: the
 * time from the kill to the result, minus the 500 ms of step work that remained. Checked: steps
 * 1–10 ran exactly once, and the log records the killed attempt (WorkerLostError) and the claim.
 */
export async function w4Recovery(ctx: BenchContext): Promise<ResultRow[]> {
  const stack = await startInProcessStack('postgres+nats', ctx, { worker: false });
  const dir = await mkdtemp(join(tmpdir(), 'ratchet-bench-w4-'));
  const removeDir = ctx.cleanup.add(`rm ${dir}`, () => rm(dir, { recursive: true, force: true }));
  const workers: RatchetProcess[] = [];
  let spawned = 0;
  const addWorker = async () => {
    const args = ['worker', '--workflows', join(ctx.root, 'tests/bench/workflows.ts'), '--ack-wait', String(ctx.options.ackWaitMs)];
    workers.push(
      await spawnRatchet({ root: ctx.root, name: `worker-${++spawned}`, args, env: stack.env, cleanup: ctx.cleanup, logs: stack.logs }),
    );
  };
  try {
    await Promise.all([addWorker(), addWorker()]);
    progress(`W4 ${stack.label} + 2 worker processes (--ack-wait ${ctx.options.ackWaitMs}): warm-up`);
    await (await stack.client.start(recovery, { file: join(dir, 'warm-up.log'), steps: 3, stepMs: 5 })).result({ timeout: '30s' });
    const runs: RecoveryRun[] = [];
    for (let i = 1; i <= ctx.options.runs; i++) {
      const run = await recoverOnce(stack, join(dir, `run-${i}.log`), workers);
      progress(
        `W4 run ${i}/${ctx.options.runs}: done ${run.beyondWorkMs.toFixed(0)} ms beyond the remaining work (kill → claim ${run.killToClaimMs?.toFixed(0) ?? '?'} ms)${run.problems.length ? `; PROBLEMS: ${run.problems.join('; ')}` : ''}`,
      );
      runs.push(run);
      // Two workers for the next run: replace the one killed.
      for (const dead of workers.filter((worker) => worker.child.exitCode !== null || worker.child.signalCode !== null)) {
        workers.splice(workers.indexOf(dead), 1);
      }
      while (workers.length < 2) await addWorker();
    }
    const setup = `postgres+nats, engine in-process, 2 worker processes, --ack-wait ${ctx.options.ackWaitMs}`;
    const problems = runs.flatMap((run, i) => run.problems.map((problem) => `run ${i + 1}: ${problem}`));
    return [
      resultRow({
        id: 'W4/postgres+nats/worker-processes',
        section: 'workloads',
        workload: 'W4 recovery',
        setup,
        metric: 'ms beyond the remaining step work',
        samples: runs.map((run) => run.beyondWorkMs),
        target: { op: '<=', value: 1000 },
        details: {
          steps: STEPS,
          stepMs: STEP_MS,
          killedDuringStep: KILL_DURING,
          remainingWorkMs: REMAINING_WORK_MS,
          ackWaitMs: ctx.options.ackWaitMs,
          checks:
            'steps 1–10 ran exactly once; step 11 ran twice (attempt 1 killed, attempt 2 elsewhere); the log has StepFailed(WorkerLostError) for attempt 1 and a JobClaimed',
          checksPassed: problems.length === 0,
        },
        problems: [...problems, ...stack.logs.problems()],
      }),
      resultRow({
        id: 'W4/postgres+nats/worker-processes/kill-to-claim',
        section: 'workloads',
        workload: 'W4 recovery',
        setup,
        metric: 'ms from the kill to JobClaimed (detection)',
        samples: runs.map((run) => run.killToClaimMs ?? Number.NaN),
      }),
    ];
  } finally {
    await Promise.all(workers.map((worker) => worker.stop(5000)));
    await stack.close();
    await removeDir();
  }
}

async function recoverOnce(stack: InProcessStack, file: string, workers: readonly RatchetProcess[]): Promise<RecoveryRun> {
  const job = await stack.client.start(recovery, { file, steps: STEPS, stepMs: STEP_MS });
  const victim = await pollUntil(
    `step ${KILL_DURING} of job ${job.jobId} to begin`,
    async () => (await effects(file)).find((line) => line.step === KILL_DURING)?.pid,
    30_000,
    2,
  );
  const worker = workers.find((candidate) => candidate.pid === victim);
  if (!worker) throw new Error(`step ${KILL_DURING} ran in pid ${victim}, which is none of the worker processes`);
  worker.child.kill('SIGKILL');
  const killedAt = Date.now();
  const t0 = now();
  await job.result({ timeout: '60s' });
  const beyondWorkMs = now() - t0 - REMAINING_WORK_MS;

  const problems: string[] = [];
  const lines = await effects(file);
  for (let step = 1; step <= STEPS; step++) {
    const runs = lines.filter((line) => line.step === step);
    const expected = step === KILL_DURING ? 2 : 1;
    if (runs.length !== expected) problems.push(`step ${step} ran ${runs.length} times, not ${expected}`);
  }
  const retried = lines.filter((line) => line.step === KILL_DURING);
  if (retried[1] && (retried[1].attempt !== 2 || retried[1].pid === victim)) {
    problems.push(`step ${KILL_DURING} ran again as attempt ${retried[1].attempt} in pid ${retried[1].pid} (killed: ${victim})`);
  }
  const history = (await stack.store.store.read(job.jobId)).map((recorded) => recorded.event);
  const lost = history.find((event): event is StepFailed => event.type === 'StepFailed' && event.stepId === KILL_DURING - 1);
  if (lost?.attempt !== 1 || lost.failure.name !== 'WorkerLostError') {
    problems.push(`the log does not record attempt 1 of step ${KILL_DURING} as lost (found ${JSON.stringify(lost ?? null)})`);
  }
  const claimed = history.find((event): event is JobClaimed => event.type === 'JobClaimed');
  if (!claimed) problems.push('the log has no JobClaimed');
  if (!history.some((event): event is JobCompleted => event.type === 'JobCompleted')) problems.push('the job did not complete');
  return { beyondWorkMs, killToClaimMs: claimed ? claimed.claimedAt - killedAt : undefined, problems };
}

/** The side-effect lines "step-<n> <attempt> <pid>" of a run, parsed. */
async function effects(file: string): Promise<{ step: number; attempt: number; pid: number }[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [step, attempt, pid] = line.split(' ');
      return { step: Number(step?.slice('step-'.length)), attempt: Number(attempt), pid: Number(pid) };
    });
}
