import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Machine } from './machine.ts';
import { summarize } from './stats.ts';

/**
 * Where a row is printed: what the machine itself costs, the workloads with targets, the cost of a W1
 * step, the scaling curve, the memory check.
 */
export type Section = 'floor' | 'workloads' | 'costs' | 'scaling' | 'memory';

/** A performance target (README, Benchmarks). */
export interface Target {
  readonly op: '>=' | '<=';
  readonly value: number;
}

/** One measured quantity: its runs, their median and range, and the target it answers to. */
export interface ResultRow {
  /** Stable key: a later run replaces the row with the same id in the JSON file. */
  readonly id: string;
  readonly section: Section;
  readonly workload: string;
  readonly setup: string;
  readonly metric: string;
  readonly samples: readonly number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly target?: Target;
  /** Whether the median meets the target. */
  readonly meets?: boolean;
  /** Configuration, breakdowns and checks behind the number. */
  readonly details?: Readonly<Record<string, unknown>>;
  /** Failed checks and engine/worker warnings seen while measuring; printed after the tables. */
  readonly problems?: readonly string[];
  readonly ranAt: string;
}

export function resultRow(fields: Omit<ResultRow, 'median' | 'min' | 'max' | 'meets' | 'ranAt'>): ResultRow {
  const summary = summarize(fields.samples);
  const target = fields.target;
  return {
    ...fields,
    samples: fields.samples.map(round),
    median: round(summary.median),
    min: round(summary.min),
    max: round(summary.max),
    ...(target ? { meets: target.op === '>=' ? summary.median >= target.value : summary.median <= target.value } : {}),
    ranAt: new Date().toISOString(),
  };
}

const SECTION_TITLES: Record<Section, string> = {
  floor: 'Machine floor (what a commit and a NATS round trip cost here; W2 and W3 cannot beat their floors)',
  workloads: 'Workloads (performance targets)',
  costs: 'Cost of a step (W1)',
  scaling: 'Scaling curve (W1)',
  memory: 'Memory',
};

/** The tables, one per section, as plain text: median, min–max over the runs, target. */
export function renderTables(rows: readonly ResultRow[], machine: Machine, runs: number, failures: readonly Failure[] = []): string {
  const out: string[] = [
    `Ratchet benchmarks — ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}`,
    `${machine.postgres.split(' on ')[0]} (fsync=${machine.postgresSettings.fsync}, synchronous_commit=${machine.postgresSettings.synchronous_commit}); ${machine.nats}; load average at start ${machine.loadAverageAtStart}`,
    `median of ${runs} run${runs > 1 ? 's' : ''} (min–max over the runs), each workload after a warm-up; one-off measurements have no range`,
  ];
  for (const section of Object.keys(SECTION_TITLES) as Section[]) {
    const inSection = rows.filter((row) => row.section === section);
    if (inSection.length === 0) continue;
    out.push('', SECTION_TITLES[section]);
    const table = inSection.map((row) => [
      row.workload,
      row.setup,
      row.metric,
      formatNumber(row.median),
      row.samples.length > 1 ? `${formatNumber(row.min)}–${formatNumber(row.max)}` : '',
      row.target ? `${row.target.op === '>=' ? '≥' : '≤'} ${formatNumber(row.target.value)}` : '',
      row.meets === undefined ? '' : row.meets ? 'met' : 'MISSED',
    ]);
    out.push(...alignColumns([['workload', 'setup', 'metric', 'median', 'min–max', 'target', ''], ...table]));
  }
  const problems = rows.flatMap((row) => (row.problems ?? []).map((problem) => `${row.workload} (${row.setup}): ${problem}`));
  if (problems.length > 0) out.push('', 'Problems seen while measuring', ...problems.map((problem) => `  - ${problem}`));
  if (failures.length > 0)
    out.push('', 'Workloads that failed', ...failures.map((failure) => `  - ${failure.workload}: ${failure.message}`));
  return `${out.join('\n')}\n`;
}

function alignColumns(table: readonly (readonly string[])[]): string[] {
  const widths = (table[0] ?? []).map((_, column) => Math.max(...table.map((cells) => (cells[column] ?? '').length)));
  const numeric = new Set([3, 4]);
  return table.map((cells) =>
    cells
      .map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

export function formatNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}

function round(value: number): number {
  return Number(value.toPrecision(6));
}

/** A workload that failed instead of producing rows. */
export interface Failure {
  readonly workload: string;
  readonly message: string;
  readonly ranAt?: string;
}

/** The JSON file: the latest row of every id ever run, and the machine of the latest run. */
export interface ResultsFile {
  readonly description: string;
  readonly updatedAt: string;
  readonly machine: Machine;
  readonly lastCommand: string;
  /** The latest failure of every workload whose latest run failed (its earlier rows, if any, are kept). */
  readonly failures: readonly Failure[];
  readonly rows: readonly ResultRow[];
}

/**
 * Writes `rows` into the JSON file at `path`, replacing rows with the same id and keeping the
 * others (each row carries its own `ranAt`), so `--only W3` refreshes W3 without losing the rest.
 */
export async function writeResults(
  path: string,
  run: {
    readonly rows: readonly ResultRow[];
    readonly machine: Machine;
    readonly command: string;
    /** Every workload this run attempted: their earlier failures are replaced by this run's outcome. */
    readonly workloads: readonly string[];
    readonly failures: readonly Failure[];
  },
): Promise<void> {
  const { rows, machine, command } = run;
  let previous: readonly ResultRow[] = [];
  let previousFailures: readonly Failure[] = [];
  try {
    const file = JSON.parse(await readFile(path, 'utf8')) as Partial<ResultsFile>;
    previous = file.rows ?? [];
    previousFailures = file.failures ?? [];
  } catch {
    // No file yet, or not ours: start afresh.
  }
  const attempted = new Set(run.workloads);
  const ranAt = new Date().toISOString();
  const failures = [
    ...previousFailures.filter((failure) => !attempted.has(failure.workload)),
    ...run.failures.map((failure) => ({ ...failure, ranAt })),
  ];
  const fresh = new Set(rows.map((row) => row.id));
  const order = Object.keys(SECTION_TITLES);
  const merged = [...previous.filter((row) => !fresh.has(row.id)), ...rows].sort(
    (a, b) => order.indexOf(a.section) - order.indexOf(b.section) || a.id.localeCompare(b.id, 'en', { numeric: true }),
  );
  const file: ResultsFile = {
    description: 'Ratchet benchmark results (npm run bench); see the Benchmarks section of README.md',
    updatedAt: new Date().toISOString(),
    machine,
    lastCommand: command,
    failures,
    rows: merged,
  };
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.tmp`, `${JSON.stringify(file, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}
