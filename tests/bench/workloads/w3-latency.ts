import type { Client } from '@ratchet/sdk';
import { type BenchContext, progress } from '../context.ts';
import { startInProcessStack } from '../in-process-stack.ts';
import type { StackKind } from '../options.ts';
import { startProcessStack } from '../process-stack.ts';
import { type ResultRow, resultRow } from '../report.ts';
import { now, percentile } from '../stats.ts';
import { trivialSteps } from '../workflows.ts';

const JOBS = 200;
const WARM_UP_JOBS = 20;

/** W3: 200 one-step jobs one after another, start → result; p50 and p99 of each run. */
export async function w3Latency(ctx: BenchContext, kind: StackKind): Promise<ResultRow[]> {
  const stack = await startInProcessStack(kind, ctx);
  try {
    return await measure(ctx, {
      id: `W3/${kind}/in-process`,
      label: stack.label,
      client: stack.client,
      problems: () => stack.logs.problems(),
    });
  } finally {
    await stack.close();
  }
}

/**
 * W3 as deployed: `ratchet engine` and `ratchet worker` processes, the client in the bench
 * process. Each process collects its own garbage, so one's pause stalls only its part of a job.
 */
export async function w3LatencyProcesses(ctx: BenchContext): Promise<ResultRow[]> {
  const stack = await startProcessStack(ctx, { engines: 1, workers: 1 });
  try {
    return await measure(ctx, {
      id: 'W3/postgres+nats/processes-1e1w',
      label: stack.label,
      client: stack.client,
      problems: () => stack.logs.problems(),
    });
  } finally {
    await stack.close();
  }
}

async function measure(
  ctx: BenchContext,
  setup: { readonly id: string; readonly label: string; readonly client: Client; readonly problems: () => string[] },
): Promise<ResultRow[]> {
  const latencies = async (jobs: number) => {
    const samples: number[] = [];
    for (let i = 0; i < jobs; i++) {
      const t0 = now();
      const job = await setup.client.start(trivialSteps, { steps: 1 });
      const output = await job.result({ timeout: '30s' });
      samples.push(now() - t0);
      if (output !== 1) throw new Error(`job ${job.jobId} returned ${String(output)}, not 1`);
    }
    return samples;
  };
  progress(`W3 ${setup.label}: warm-up`);
  await latencies(WARM_UP_JOBS);
  const runs = [];
  for (let i = 1; i <= ctx.options.runs; i++) {
    const samples = await latencies(JOBS);
    const run = { p50: percentile(samples, 50), p99: percentile(samples, 99), max: Math.max(...samples) };
    progress(
      `W3 ${setup.label}: run ${i}/${ctx.options.runs}: p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, max ${run.max.toFixed(2)} ms`,
    );
    runs.push(run);
  }
  const common = { section: 'workloads', workload: 'W3 latency', setup: setup.label } as const;
  const details = {
    jobs: JOBS,
    warmUpJobs: WARM_UP_JOBS,
    percentile: 'nearest rank',
    maxMs: runs.map((run) => Number(run.max.toFixed(2))),
  };
  return [
    resultRow({
      ...common,
      id: `${setup.id}/p50`,
      metric: 'p50 ms (start → result)',
      samples: runs.map((run) => run.p50),
      target: { op: '<=', value: 1.5 },
      details,
      problems: setup.problems(),
    }),
    resultRow({
      ...common,
      id: `${setup.id}/p99`,
      metric: 'p99 ms (start → result)',
      samples: runs.map((run) => run.p99),
      target: { op: '<=', value: 4 },
    }),
  ];
}
