import { type BenchContext, progress } from '../context.ts';
import { startInProcessStack } from '../in-process-stack.ts';
import type { StackKind } from '../options.ts';
import { type ResultRow, resultRow } from '../report.ts';
import { now } from '../stats.ts';
import { trivialSteps } from '../workflows.ts';

const STEPS = 500;

/** W2: one job of 500 sequential trivial steps; ms per step = job wall time (start → result) / 500. */
export async function w2Sequential(ctx: BenchContext, kind: StackKind): Promise<ResultRow[]> {
  const stack = await startInProcessStack(kind, ctx);
  try {
    const runJob = async (steps: number) => {
      const t0 = now();
      const job = await stack.client.start(trivialSteps, { steps });
      const output = await job.result({ timeout: '60s' });
      const wallMs = now() - t0;
      if (output !== steps) throw new Error(`job ${job.jobId} returned ${String(output)}, not ${steps}`);
      const history = await stack.store.store.read(job.jobId);
      const firstStep = history.find((e) => e.event.type === 'StepStarted')?.recordedAt ?? 0;
      const last = history.at(-1)?.recordedAt ?? 0;
      return { wallMs, msPerStep: wallMs / steps, loggedMsPerStep: (last - firstStep) / steps };
    };
    // The warm-up is a whole job: after a short one the first measured run was still the slowest
    // of the three (JIT, connection and statement caches still settling).
    progress(`W2 ${stack.label}: warm-up`);
    await runJob(STEPS);
    const runs = [];
    for (let i = 1; i <= ctx.options.runs; i++) {
      const run = await runJob(STEPS);
      progress(`W2 ${stack.label}: run ${i}/${ctx.options.runs}: ${run.msPerStep.toFixed(3)} ms/step`);
      runs.push(run);
    }
    return [
      resultRow({
        id: `W2/${kind}/in-process`,
        section: 'workloads',
        workload: 'W2 sequential',
        setup: stack.label,
        metric: 'ms/step',
        samples: runs.map((run) => run.msPerStep),
        target: { op: '<=', value: 0.4 },
        details: {
          steps: STEPS,
          wallMs: runs.map((run) => Math.round(run.wallMs)),
          loggedMsPerStep: runs.map((run) => Number(run.loggedMsPerStep.toFixed(3))),
          note: 'loggedMsPerStep: first StepStarted to JobCompleted by the log’s recorded_at (ms resolution), without start and result',
        },
        problems: stack.logs.problems(),
      }),
    ];
  } finally {
    await stack.close();
  }
}
