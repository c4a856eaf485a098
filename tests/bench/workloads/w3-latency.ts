import { type BenchContext, progress } from '../context.ts';
import { startInProcessStack } from '../in-process-stack.ts';
import type { StackKind } from '../options.ts';
import { type ResultRow, resultRow } from '../report.ts';
import { now, percentile } from '../stats.ts';
import { trivialSteps } from '../workflows.ts';

const JOBS = 200;
const WARM_UP_JOBS = 20;

/** W3: 200 one-step jobs one after another, start → result; p50 and p99 of each run. */
export async function w3Latency(ctx: BenchContext, kind: StackKind): Promise<ResultRow[]> {
  const stack = await startInProcessStack(kind, ctx);
  try {
    const latencies = async (jobs: number) => {
      const samples: number[] = [];
      for (let i = 0; i < jobs; i++) {
        const t0 = now();
        const job = await stack.client.start(trivialSteps, { steps: 1 });
        const output = await job.result({ timeout: '30s' });
        samples.push(now() - t0);
        if (output !== 1) throw new Error(`job ${job.jobId} returned ${String(output)}, not 1`);
      }
      return samples;
    };
    progress(`W3 ${stack.label}: warm-up`);
    await latencies(WARM_UP_JOBS);
    const runs = [];
    for (let i = 1; i <= ctx.options.runs; i++) {
      const samples = await latencies(JOBS);
      const run = { p50: percentile(samples, 50), p99: percentile(samples, 99), max: Math.max(...samples) };
      progress(
        `W3 ${stack.label}: run ${i}/${ctx.options.runs}: p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, max ${run.max.toFixed(2)} ms`,
      );
      runs.push(run);
    }
    const common = { id: `W3/${kind}/in-process`, section: 'workloads', workload: 'W3 latency', setup: stack.label } as const;
    const details = {
      jobs: JOBS,
      warmUpJobs: WARM_UP_JOBS,
      percentile: 'nearest rank',
      maxMs: runs.map((run) => Number(run.max.toFixed(2))),
    };
    return [
      resultRow({
        ...common,
        id: `${common.id}/p50`,
        metric: 'p50 ms (start → result)',
        samples: runs.map((run) => run.p50),
        target: { op: '<=', value: 1.5 },
        details,
        problems: stack.logs.problems(),
      }),
      resultRow({
        ...common,
        id: `${common.id}/p99`,
        metric: 'p99 ms (start → result)',
        samples: runs.map((run) => run.p99),
        target: { op: '<=', value: 4 },
      }),
    ];
  } finally {
    await stack.close();
  }
}
