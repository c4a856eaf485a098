import type { Client } from '@ratchet/sdk';
import { now, within } from '../stats.ts';
import { trivialSteps } from '../workflows.ts';

export interface ThroughputLoad {
  readonly jobs: number;
  readonly stepsPerJob: number;
  /** The client keeps this many jobs started and unfinished. */
  readonly inFlight: number;
}

export interface ThroughputResult {
  readonly steps: number;
  /** From the first start to the last result. */
  readonly wallMs: number;
  readonly stepsPerSecond: number;
  /** When each job's result arrived, ms after the first start, in arrival order. */
  readonly finishedAtMs: readonly number[];
}

/** A load that stops making progress for this long has stalled: it fails instead of waiting out every job's timeout. */
const STALL_MS = 15_000;

/**
 * W1's load: `inFlight` lanes, each starting a job of trivial steps and waiting for its result
 * before starting the next, until `jobs` have finished. Bounded: it fails when no job finishes
 * for 15 s, and the whole load gets 20 ms per step plus 60 s.
 */
export async function runThroughput(client: Client, load: ThroughputLoad): Promise<ThroughputResult> {
  let started = 0;
  let stopped = false;
  const finishedAtMs: number[] = [];
  const t0 = now();
  let progressAt = t0;
  const lane = async () => {
    while (started < load.jobs && !stopped) {
      started++;
      const job = await client.start(trivialSteps, { steps: load.stepsPerJob });
      const output = await job.result({ timeout: '60s' });
      if (output !== load.stepsPerJob) throw new Error(`job ${job.jobId} returned ${String(output)}, not ${load.stepsPerJob}`);
      progressAt = now();
      finishedAtMs.push(progressAt - t0);
    }
  };
  let watchdog: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    watchdog = setInterval(() => {
      if (now() - progressAt > STALL_MS)
        reject(new Error(`stalled: no job finished for ${STALL_MS / 1000} s (${finishedAtMs.length} of ${load.jobs} done)`));
    }, 1000);
  });
  const steps = load.jobs * load.stepsPerJob;
  const lanes = Promise.all(Array.from({ length: Math.min(load.inFlight, load.jobs) }, lane));
  try {
    await within(`${load.jobs} jobs × ${load.stepsPerJob} steps`, 60_000 + steps * 20, Promise.race([lanes, stalled]));
  } finally {
    stopped = true;
    clearInterval(watchdog);
  }
  const wallMs = now() - t0;
  return { steps, wallMs, stepsPerSecond: (steps / wallMs) * 1000, finishedAtMs };
}

/** Steps per second in each tenth of the jobs, by order of finishing: flat when cost per step does not grow with the log. */
export function stepsPerSecondByTenth(result: ThroughputResult, stepsPerJob: number): number[] {
  const jobs = result.finishedAtMs.length;
  const tenths: number[] = [];
  for (let tenth = 0; tenth < 10; tenth++) {
    const from = Math.floor((tenth * jobs) / 10);
    const to = Math.floor(((tenth + 1) * jobs) / 10);
    const startMs = from === 0 ? 0 : (result.finishedAtMs[from - 1] as number);
    const endMs = result.finishedAtMs[to - 1] as number;
    tenths.push(Math.round((((to - from) * stepsPerJob) / (endMs - startMs)) * 1000));
  }
  return tenths;
}
