import { type BenchContext, progress } from '../context.ts';
import { unfinishedJobs } from '../diagnose.ts';
import { type InProcessStack, startInProcessStack } from '../in-process-stack.ts';
import type { StackKind } from '../options.ts';
import { finalCounters } from '../postgres-stats.ts';
import { startProcessStack } from '../process-stack.ts';
import { formatNumber, type ResultRow, resultRow } from '../report.ts';
import { type CostedRun, type CostProbes, costedRun, costRows, type DatabaseTotals } from './step-costs.ts';
import { runThroughput, type ThroughputLoad } from './throughput-load.ts';

/** W1: 500 jobs × 10 trivial steps, at most 100 in flight. */
export const W1_LOAD: ThroughputLoad = { jobs: 500, stepsPerJob: 10, inFlight: 100 };
/** A whole load: after a shorter one the measured runs still sped up from one to the next (JIT). */
export const W1_WARM_UP: ThroughputLoad = { jobs: 500, stepsPerJob: 10, inFlight: 100 };
export const W1_TARGET = { op: '>=', value: 10_000 } as const;
/** `--concurrency` of every W1 worker: one worker can hold all 100 jobs in flight. */
export const W1_CONCURRENCY = 100;
const WORKLOAD = 'W1 throughput';

/** The probes of an in-process stack: everything is visible. */
export function inProcessProbes(stack: InProcessStack): CostProbes {
  return {
    client: stack.client,
    clientTransport: stack.clientTransport,
    store: stack.store,
    rss: () => ({ 'the bench process (engine + worker + client)': process.memoryUsage().rss }),
    ...(stack.workerTransport ? { workerTransport: stack.workerTransport } : {}),
    ...(stack.database ? { databaseUrl: stack.database.url } : {}),
  };
}

/** W1 with engine, worker and client in this process; its step costs too. */
export async function w1InProcess(ctx: BenchContext, kind: StackKind): Promise<ResultRow[]> {
  const stack = await startInProcessStack(kind, ctx, { concurrency: W1_CONCURRENCY, countByType: true });
  try {
    const runs = await measure(
      stack.label,
      W1_LOAD,
      () => costedRun(inProcessProbes(stack), W1_LOAD),
      ctx.options.runs,
      stack.client,
      stack.database?.url,
    );
    await stack.stopServing();
    const database = stack.database ? await databaseTotals(ctx, stack.database.name, runs) : undefined;
    return [
      throughputRow(
        `W1/${kind}/in-process`,
        stack.label,
        runs,
        { worker: { concurrency: W1_CONCURRENCY, countByType: true } },
        stack.logs.problems(),
      ),
      ...costRows(runs, { idPrefix: `costs/${kind}/in-process`, workload: WORKLOAD, setup: stack.label, section: 'costs' }, database),
    ];
  } finally {
    await stack.close();
  }
}

/** W1 with `ratchet engine` and `ratchet worker` processes; the client in this process. */
export async function w1Processes(
  ctx: BenchContext,
  shape: { readonly engines: number; readonly workers: number; readonly section: 'workloads' | 'scaling' },
): Promise<ResultRow[]> {
  const stack = await startProcessStack(ctx, { engines: shape.engines, workers: shape.workers, concurrency: W1_CONCURRENCY });
  try {
    const probes: CostProbes = {
      client: stack.client,
      clientTransport: stack.clientTransport,
      databaseUrl: stack.database.url,
      rss: () => Object.fromEntries([...stack.engines, ...stack.workers].map((child) => [`${child.name} process`, child.rssBytes()])),
    };
    const runs = await measure(stack.label, W1_LOAD, () => costedRun(probes, W1_LOAD), ctx.options.runs, stack.client, stack.database.url);
    await stack.stopServing();
    const database = await databaseTotals(ctx, stack.database.name, runs);
    const scaling = shape.section === 'scaling';
    const id = `postgres+nats/processes-${shape.engines}e${shape.workers}w`;
    const details = { engines: shape.engines, workers: shape.workers, worker: { concurrency: W1_CONCURRENCY, countByType: true } };
    const throughput = throughputRow(`${scaling ? 'scaling' : 'W1'}/${id}`, stack.label, runs, details, stack.logs.problems());
    const costs = costRows(
      runs,
      {
        idPrefix: `${scaling ? 'scaling-costs' : 'costs'}/${id}`,
        workload: WORKLOAD,
        setup: stack.label,
        section: scaling ? 'scaling' : 'costs',
      },
      database,
    );
    // Next to steps/s on the scaling curve: commits per step and the RSS of each process.
    return [throughput, ...(scaling ? costs.filter((row) => /pg-commits|rss-/.test(row.id)) : costs)];
  } finally {
    await stack.close();
  }
}

/** A warm-up of {@link W1_WARM_UP}, then `runs` measured runs, with a progress line each. */
export async function measure(
  label: string,
  load: ThroughputLoad,
  run: () => Promise<CostedRun>,
  runs: number,
  client: CostProbes['client'],
  databaseUrl: string | undefined,
): Promise<CostedRun[]> {
  try {
    progress(`W1 ${label}: warm-up (${W1_WARM_UP.jobs} jobs)`);
    await runThroughput(client, W1_WARM_UP);
    const results: CostedRun[] = [];
    for (let i = 1; i <= runs; i++) {
      const result = await run();
      progress(
        `W1 ${label}: run ${i}/${runs}: ${formatNumber(result.stepsPerSecond)} steps/s (${load.jobs} jobs, ${result.steps} steps in ${result.wallMs.toFixed(0)} ms)`,
      );
      results.push(result);
    }
    return results;
  } catch (error) {
    // A stall: say which jobs are stuck where, from the log.
    const stuck = databaseUrl ? await unfinishedJobs(databaseUrl).catch((cause: unknown) => [`(no diagnosis: ${String(cause)})`]) : [];
    throw new Error([`W1 ${label}: ${error instanceof Error ? error.message : String(error)}`, ...stuck].join('\n'), { cause: error });
  }
}

/** pg_stat_database of the stack's database once its engines have closed their connections. */
export async function databaseTotals(ctx: BenchContext, name: string, runs: readonly CostedRun[]): Promise<DatabaseTotals> {
  const counters = await finalCounters(ctx.postgresUrl, name);
  const steps = W1_WARM_UP.jobs * W1_WARM_UP.stepsPerJob + runs.reduce((total, run) => total + run.steps, 0);
  return { counters, steps };
}

function throughputRow(
  id: string,
  setup: string,
  runs: readonly CostedRun[],
  details: Record<string, unknown>,
  problems: string[],
): ResultRow {
  return resultRow({
    id,
    section: id.startsWith('scaling') ? 'scaling' : 'workloads',
    workload: WORKLOAD,
    setup,
    metric: 'steps/s',
    samples: runs.map((run) => run.stepsPerSecond),
    target: W1_TARGET,
    details: { load: W1_LOAD, warmUp: W1_WARM_UP, wallMs: runs.map((run) => Math.round(run.wallMs)), ...details },
    problems,
  });
}
