// `npm run bench`: runs the performance workloads W1–W5 against real servers (and the embedded default),
// prints a table of medians with min–max to stdout and writes it to tests/bench/results/latest.json.
import { findServers } from '../harness/servers.ts';
import { Cleanup } from './cleanup.ts';
import { type BenchContext, type BenchJob, progress } from './context.ts';
import { describeMachine } from './machine.ts';
import { parseOptions, USAGE } from './options.ts';
import { type Failure, type ResultRow, renderTables, writeResults } from './report.ts';
import { machineFloor } from './workloads/floor.ts';
import { memory } from './workloads/memory.ts';
import { scalingJobs } from './workloads/scaling.ts';
import { w1InProcess, w1Processes } from './workloads/w1-throughput.ts';
import { w2Sequential } from './workloads/w2-sequential.ts';
import { w3Latency, w3LatencyProcesses } from './workloads/w3-latency.ts';
import { w4Recovery } from './workloads/w4-recovery.ts';
import { w5Fold, w5ReadAndFold } from './workloads/w5-replay.ts';

const root = new URL('../..', import.meta.url).pathname;

function plan(ctx: BenchContext): BenchJob[] {
  const { selected, stacks } = ctx.options;
  const jobs: BenchJob[] = [];
  const postgres = stacks.includes('postgres+nats');
  // Always first: the yardstick the latency workloads are read against.
  if (postgres) jobs.push({ name: 'machine floor', run: () => machineFloor(ctx) });
  if (selected.has('W1')) {
    for (const kind of stacks) jobs.push({ name: `W1 ${kind} in-process`, run: () => w1InProcess(ctx, kind) });
    if (postgres)
      jobs.push({ name: 'W1 postgres+nats processes', run: () => w1Processes(ctx, { engines: 1, workers: 1, section: 'workloads' }) });
  }
  if (selected.has('W2')) for (const kind of stacks) jobs.push({ name: `W2 ${kind}`, run: () => w2Sequential(ctx, kind) });
  if (selected.has('W3')) {
    for (const kind of stacks) jobs.push({ name: `W3 ${kind}`, run: () => w3Latency(ctx, kind) });
    if (postgres) jobs.push({ name: 'W3 postgres+nats processes', run: () => w3LatencyProcesses(ctx) });
  }
  if (selected.has('W4') && postgres) jobs.push({ name: 'W4 postgres+nats', run: () => w4Recovery(ctx) });
  if (selected.has('W5')) {
    jobs.push({ name: 'W5 fold', run: () => w5Fold(ctx) });
    for (const kind of stacks) jobs.push({ name: `W5 read + fold ${kind}`, run: () => w5ReadAndFold(ctx, kind) });
  }
  if (selected.has('scaling') && postgres) jobs.push(...scalingJobs(ctx));
  if (selected.has('memory') && postgres) jobs.push({ name: 'memory', run: () => memory(ctx) });
  return jobs;
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseOptions(argv, root);
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const cleanup = new Cleanup();
  const interrupted = (signal: NodeJS.Signals) => {
    progress(`${signal}: cleaning up`);
    void cleanup.runAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const servers = await findServers();
    cleanup.add('stop the servers the bench started', () => servers.stop());
    const machine = await describeMachine(servers.postgresUrl, servers.natsUrl);
    progress(`${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}, load average ${machine.loadAverageAtStart}`);
    const ctx: BenchContext = { root, postgresUrl: servers.postgresUrl, natsUrl: servers.natsUrl, options, cleanup };
    const rows: ResultRow[] = [];
    const failures: Failure[] = [];
    const jobs = plan(ctx);
    for (const job of jobs) {
      progress(`— ${job.name}`);
      try {
        rows.push(...(await job.run()));
      } catch (error) {
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        progress(`${job.name} FAILED: ${message}`);
        failures.push({ workload: job.name, message: error instanceof Error ? error.message : String(error) });
      }
    }
    process.stdout.write(renderTables(rows, machine, options.runs, failures));
    const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
    await writeResults(options.out, { rows, machine, command, workloads: jobs.map((job) => job.name), failures });
    progress(`results written to ${options.out}`);
    return failures.length > 0 ? 1 : 0;
  } finally {
    await cleanup.runAll();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    if (error instanceof RangeError) process.stderr.write(`\n${USAGE}\n`);
    process.exit(error instanceof RangeError ? 2 : 1);
  },
);
