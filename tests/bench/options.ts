import { join } from 'node:path';
import { parseArgs } from 'node:util';

/** The workloads with performance targets, and the sections only a flag adds. */
export const WORKLOADS = ['W1', 'W2', 'W3', 'W4', 'W5'] as const;
export const EXTRA_SECTIONS = ['scaling', 'memory'] as const;
export type Selection = (typeof WORKLOADS)[number] | (typeof EXTRA_SECTIONS)[number];

export type StackKind = 'postgres+nats' | 'pglite+memory';
export const STACK_KINDS: readonly StackKind[] = ['postgres+nats', 'pglite+memory'];

export interface BenchOptions {
  /** Measured runs of each workload (after its warm-up). @default 3 */
  readonly runs: number;
  readonly selected: ReadonlySet<Selection>;
  readonly stacks: readonly StackKind[];
  /** `--ack-wait` of the W4 worker processes: how soon a dead worker's task is redelivered. @default 600 (the worker's default) */
  readonly ackWaitMs: number;
  /** Where the JSON goes; rows not run this time are kept from the file already there. */
  readonly out: string;
}

export const USAGE = `usage: npm run bench -- [options]

  --runs <n>          measured runs of each workload, after a warm-up (default 3)
  --only <list>       comma-separated: W1,W2,W3,W4,W5,scaling,memory (default W1–W5)
  --scaling           add the scaling curve: W1 with 1/2/4 worker and 1/2 engine processes, and W1 at 10x the jobs
  --memory            add the memory check: a worker process whose 10,000 jobs are parked on sleeps
  --stacks <list>     postgres+nats,pglite+memory (default both; W4 and the process modes need postgres+nats)
  --ack-wait <ms>     ack wait of the W4 worker processes (default 600, the worker's default)
  --out <file>        JSON results (default tests/bench/results/latest.json)

Servers: DATABASE_URL / NATS_URL, else 127.0.0.1:5432 and :4222, else its own postgres and nats-server
(tests/harness/servers.ts). The table goes to stdout, progress to stderr.`;

/** Parses the command line; throws a RangeError naming the bad option. */
export function parseOptions(argv: readonly string[], root: string): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      runs: { type: 'string', default: '3' },
      only: { type: 'string' },
      scaling: { type: 'boolean', default: false },
      memory: { type: 'boolean', default: false },
      stacks: { type: 'string' },
      'ack-wait': { type: 'string', default: '600' },
      out: { type: 'string', default: join(root, 'tests/bench/results/latest.json') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const selected = new Set<Selection>(
    values.only === undefined ? WORKLOADS : list(values.only, [...WORKLOADS, ...EXTRA_SECTIONS], '--only'),
  );
  if (values.scaling) selected.add('scaling');
  if (values.memory) selected.add('memory');
  return {
    runs: positiveInteger(values.runs, '--runs', 100),
    selected,
    stacks: values.stacks === undefined ? STACK_KINDS : list(values.stacks, STACK_KINDS, '--stacks'),
    ackWaitMs: positiveInteger(values['ack-wait'], '--ack-wait', 60_000),
    out: values.out,
  };
}

function list<T extends string>(text: string, allowed: readonly T[], option: string): T[] {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  const lower = new Map(allowed.map((item) => [item.toLowerCase(), item]));
  return items.map((item) => {
    const known = lower.get(item.toLowerCase());
    if (!known) throw new RangeError(`${option}: "${item}" is not one of ${allowed.join(', ')}`);
    return known;
  });
}

function positiveInteger(text: string, option: string, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new RangeError(`${option} must be an integer from 1 to ${max}, got "${text}"`);
  return value;
}
