import { withAdmin } from '../bench-database.ts';
import { type BenchContext, progress } from '../context.ts';
import { startProcessStack } from '../process-stack.ts';
import { type ResultRow, resultRow } from '../report.ts';
import { pollUntil, sleep, within } from '../stats.ts';
import { parkedOnSleep } from '../workflows.ts';

const JOBS = 10_000;
const STARTS_IN_FLIGHT = 200;
const SETTLE_MS = 10_000;
const MB = 1024 * 1024;

/**
 * The memory target: a `ratchet worker` process that has taken 10,000 jobs to a durable sleep
 * (one step, then `ctx.sleep(1h)`) stays under 200 MB RSS. RSS is sampled every 250 ms while the
 * jobs start and park (the peak), when the `timers` table holds all 10,000 sleeps, and 10 s later.
 */
export async function memory(ctx: BenchContext): Promise<ResultRow[]> {
  const stack = await startProcessStack(ctx, { engines: 1, workers: 1 });
  try {
    const [engine] = stack.engines;
    const [worker] = stack.workers;
    if (!engine || !worker) throw new Error('the memory check needs an engine and a worker process');
    const sample = () => ({ engine: (engine.rssBytes() ?? 0) / MB, worker: (worker.rssBytes() ?? 0) / MB });
    const idle = sample();
    const peak = { ...idle };
    const sampler = setInterval(() => {
      const now = sample();
      peak.engine = Math.max(peak.engine, now.engine);
      peak.worker = Math.max(peak.worker, now.worker);
    }, 250);
    let parked: ReturnType<typeof sample>;
    try {
      progress(`memory: starting ${JOBS} jobs that park on a 1 h sleep`);
      let started = 0;
      const lane = async () => {
        while (started < JOBS) {
          started++;
          await stack.client.start(parkedOnSleep, { sleepMs: 3_600_000 });
        }
      };
      await within(`starting ${JOBS} jobs`, 300_000, Promise.all(Array.from({ length: STARTS_IN_FLIGHT }, lane)));
      const parkedCount = () =>
        withAdmin(stack.database.url, async (sql) => Number((await sql<{ n: string }[]>`select count(*) as n from timers`)[0]?.n ?? 0));
      await pollUntil(`${JOBS} jobs to park on their sleeps`, async () => ((await parkedCount()) >= JOBS ? true : undefined), 300_000, 500);
      parked = sample();
    } finally {
      clearInterval(sampler);
    }
    await sleep(SETTLE_MS);
    const settled = sample();
    progress(
      `memory: worker RSS ${parked.worker.toFixed(0)} MB when all parked (peak ${peak.worker.toFixed(0)}, ${settled.worker.toFixed(0)} ten seconds later); engine ${parked.engine.toFixed(0)} MB (peak ${peak.engine.toFixed(0)}, later ${settled.engine.toFixed(0)})`,
    );
    const setup = 'postgres+nats, processes: 1 engine, 1 worker';
    const workload = `${JOBS.toLocaleString('en-US')} jobs parked on sleeps`;
    const row = (id: string, metric: string, mb: number, target?: boolean) =>
      resultRow({
        id: `memory/${id}`,
        section: 'memory',
        workload,
        setup,
        metric,
        samples: [mb],
        ...(target ? { target: { op: '<=', value: 200 } } : {}),
      });
    return [
      resultRow({
        id: 'memory/worker-peak',
        section: 'memory',
        workload,
        setup,
        metric: 'worker RSS, peak while parking (MB)',
        samples: [peak.worker],
        target: { op: '<=', value: 200 },
        details: {
          jobs: JOBS,
          idleWorkerMb: Number(idle.worker.toFixed(1)),
          idleEngineMb: Number(idle.engine.toFixed(1)),
          settleMs: SETTLE_MS,
        },
        problems: stack.logs.problems(),
      }),
      row('worker-parked', 'worker RSS when all are parked (MB)', parked.worker, true),
      row('worker-settled', `worker RSS ${SETTLE_MS / 1000} s later (MB)`, settled.worker, true),
      row('engine-peak', 'engine RSS, peak while parking (MB)', peak.engine),
      row('engine-settled', `engine RSS ${SETTLE_MS / 1000} s later (MB)`, settled.engine),
    ];
  } finally {
    await stack.close();
  }
}
