import type { Cleanup } from './cleanup.ts';
import type { BenchOptions } from './options.ts';
import type { ResultRow } from './report.ts';

/** What every workload gets: the servers, the options and the cleanup of the whole run. */
export interface BenchContext {
  /** The repository root. */
  readonly root: string;
  /** Admin URL of the Postgres server; each workload creates its own database on it. */
  readonly postgresUrl: string;
  readonly natsUrl: string;
  readonly options: BenchOptions;
  readonly cleanup: Cleanup;
}

/** A progress line on stderr (stdout carries only the final tables). */
export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** One thing to measure, by name; a failing one is reported and the others still run. */
export interface BenchJob {
  readonly name: string;
  run(): Promise<ResultRow[]> | ResultRow[];
}
