import { type BenchContext, type BenchJob, progress } from '../context.ts';
import { startInProcessStack } from '../in-process-stack.ts';
import { type ResultRow, resultRow } from '../report.ts';
import { costedRun, costRows } from './step-costs.ts';
import { stepsPerSecondByTenth, type ThroughputLoad } from './throughput-load.ts';
import { databaseTotals, inProcessProbes, measure, W1_CONCURRENCY, W1_LOAD, W1_TARGET, w1Processes } from './w1-throughput.ts';

const ENGINES = [1, 2] as const;
const WORKERS = [1, 2, 4] as const;
/** W1 at ten times the jobs: the log grows tenfold during the run. */
const TENFOLD: ThroughputLoad = { ...W1_LOAD, jobs: W1_LOAD.jobs * 10 };

/**
 * The scaling curve, as separate jobs (one failing leaves the others standing): W1 on `ratchet
 * engine` + `ratchet worker` processes for every pairing of 1 and 2 engines with 1, 2 and 4
 * workers; then W1 at 10× the jobs in process, with its steps/s per tenth of the jobs and its cost
 * per step, to compare with the 500-job W1.
 */
export function scalingJobs(ctx: BenchContext): BenchJob[] {
  const jobs: BenchJob[] = [];
  for (const engines of ENGINES) {
    for (const workers of WORKERS) {
      jobs.push({
        name: `scaling: ${engines} engine(s), ${workers} worker(s)`,
        run: () => w1Processes(ctx, { engines, workers, section: 'scaling' }),
      });
    }
  }
  jobs.push({ name: 'scaling: W1 ×10 in-process', run: () => tenfold(ctx) });
  return jobs;
}

async function tenfold(ctx: BenchContext): Promise<ResultRow[]> {
  const stack = await startInProcessStack('postgres+nats', ctx, { concurrency: W1_CONCURRENCY, countByType: true });
  try {
    const label = `${stack.label}, ${TENFOLD.jobs} jobs`;
    const runs = await measure(
      label,
      TENFOLD,
      () => costedRun(inProcessProbes(stack), TENFOLD),
      ctx.options.runs,
      stack.client,
      stack.database?.url,
    );
    for (const run of runs) progress(`W1 ×10: steps/s by tenth of the jobs: ${stepsPerSecondByTenth(run, TENFOLD.stepsPerJob).join(', ')}`);
    await stack.stopServing();
    const database = stack.database ? await databaseTotals(ctx, stack.database.name, runs) : undefined;
    const workload = `W1 ×10 (${TENFOLD.jobs.toLocaleString('en-US')} jobs)`;
    return [
      resultRow({
        id: 'scaling/postgres+nats/in-process-10x',
        section: 'scaling',
        workload,
        setup: stack.label,
        metric: 'steps/s',
        samples: runs.map((run) => run.stepsPerSecond),
        target: W1_TARGET,
        details: {
          load: TENFOLD,
          stepsPerSecondByTenth: runs.map((run) => stepsPerSecondByTenth(run, TENFOLD.stepsPerJob)),
          wallMs: runs.map((run) => Math.round(run.wallMs)),
        },
        problems: stack.logs.problems(),
      }),
      ...costRows(
        runs,
        { idPrefix: 'scaling-costs/postgres+nats/in-process-10x', workload, setup: stack.label, section: 'scaling' },
        database,
      ),
    ];
  } finally {
    await stack.close();
  }
}
