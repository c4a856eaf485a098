import type { Client } from '@ratchet/sdk';
import type { CountingEventStore } from '../counting-event-store.ts';
import type { CountingTransport } from '../counting-transport.ts';
import { type DatabaseCounters, type LogSize, logSize } from '../postgres-stats.ts';
import { type ResultRow, resultRow } from '../report.ts';
import { runThroughput, type ThroughputLoad, type ThroughputResult } from './throughput-load.ts';

/** What can be watched around a W1 run; what a stack lacks is simply not reported. */
export interface CostProbes {
  readonly client: Client;
  readonly clientTransport: CountingTransport;
  /** In-process workers only: a worker process's requests are not visible here. */
  readonly workerTransport?: CountingTransport;
  /** In-process engines only. */
  readonly store?: CountingEventStore;
  /** URL of the Postgres database, to measure the log. */
  readonly databaseUrl?: string;
  /** RSS of each process involved, in bytes. */
  rss(): Readonly<Record<string, number | undefined>>;
}

/** A W1 run and what it cost. Counts are totals over the run; per-step figures divide by `steps`. */
export interface CostedRun extends ThroughputResult {
  readonly requests: { readonly worker?: Readonly<Record<string, number>>; readonly client: Readonly<Record<string, number>> };
  readonly taskDeliveries?: number;
  readonly storeCalls?: Readonly<Record<string, number>>;
  readonly appends?: { readonly requests: number; readonly events: number };
  readonly log?: LogSize;
  readonly rssBytes: Readonly<Record<string, number | undefined>>;
}

/**
 * Runs the W1 load with the counters zeroed, and measures how much `job_events` grew. The
 * counting decorators cost about a microsecond per request; the log is measured outside the timing.
 */
export async function costedRun(probes: CostProbes, load: ThroughputLoad): Promise<CostedRun> {
  const logBefore = probes.databaseUrl ? await logSize(probes.databaseUrl) : undefined;
  probes.clientTransport.reset();
  probes.workerTransport?.reset();
  probes.store?.reset();
  const result = await runThroughput(probes.client, load);
  const rssBytes = probes.rss();
  const requests = {
    client: Object.fromEntries(probes.clientTransport.counts.requests),
    ...(probes.workerTransport ? { worker: Object.fromEntries(probes.workerTransport.counts.requests) } : {}),
  };
  const logAfter = probes.databaseUrl ? await logSize(probes.databaseUrl) : undefined;
  return {
    ...result,
    rssBytes,
    requests,
    ...(probes.workerTransport ? { taskDeliveries: probes.workerTransport.counts.deliveries } : {}),
    ...(probes.store
      ? {
          storeCalls: Object.fromEntries(probes.store.counts.calls),
          appends: { requests: probes.store.counts.appendRequests, events: probes.store.counts.appendedEvents },
        }
      : {}),
    ...(logBefore && logAfter
      ? {
          log: {
            events: logAfter.events - logBefore.events,
            relationBytes: logAfter.relationBytes - logBefore.relationBytes,
            payloadBytes: logAfter.payloadBytes - logBefore.payloadBytes,
          },
        }
      : {}),
  };
}

/** `pg_stat_database` of a stack's database over its whole life, and the steps it ran. */
export interface DatabaseTotals {
  readonly counters: DatabaseCounters;
  /** Every step the stack ran: warm-up and measured runs. */
  readonly steps: number;
}

const sum = (counts: Readonly<Record<string, number>> | undefined) => Object.values(counts ?? {}).reduce((a, b) => a + b, 0);
const perStep = (counts: Readonly<Record<string, number>>, steps: number) =>
  Object.fromEntries(Object.entries(counts).map(([key, count]) => [key, Number((count / steps).toPrecision(3))]));
const MB = 1024 * 1024;

/** The cost rows of a set of runs on one setup: one row per quantity, each the median over the runs. */
export function costRows(
  runs: readonly CostedRun[],
  base: { readonly idPrefix: string; readonly workload: string; readonly setup: string; readonly section: ResultRow['section'] },
  database?: DatabaseTotals,
): ResultRow[] {
  const rows: ResultRow[] = [];
  const first = runs[0];
  if (!first) return rows;
  const add = (key: string, metric: string, samples: number[], details?: Record<string, unknown>) =>
    rows.push(
      resultRow({
        id: `${base.idPrefix}/${key}`,
        section: base.section,
        workload: base.workload,
        setup: base.setup,
        metric,
        samples,
        ...(details ? { details } : {}),
      }),
    );
  if (first.requests.worker) {
    add(
      'round-trips',
      'engine round trips / step (worker + client)',
      runs.map((run) => (sum(run.requests.worker) + sum(run.requests.client)) / run.steps),
      {
        workerPerStep: perStep(first.requests.worker, first.steps),
        clientPerStep: perStep(first.requests.client, first.steps),
        taskDeliveriesPerJob: first.taskDeliveries === undefined ? undefined : first.taskDeliveries / first.finishedAtMs.length,
        note: 'counted by a Transport decorator on the worker and client connections (breakdown of the first run)',
      },
    );
    add(
      'worker-round-trips',
      'worker round trips / step',
      runs.map((run) => sum(run.requests.worker) / run.steps),
    );
  } else {
    add(
      'client-round-trips',
      'client round trips / step (workers in other processes)',
      runs.map((run) => sum(run.requests.client) / run.steps),
      { clientPerStep: perStep(first.requests.client, first.steps) },
    );
  }
  if (first.storeCalls) {
    add(
      'statements',
      'store statements / step (EventStore calls)',
      runs.map((run) => sum(run.storeCalls) / run.steps),
      {
        perStep: perStep(first.storeCalls, first.steps),
        note: 'counted by an EventStore decorator; KyselyEventStore runs each call as one statement, its own transaction',
      },
    );
    add(
      'group-commits',
      'write commits (append calls) / step',
      runs.map((run) => (run.storeCalls?.append ?? 0) / run.steps),
      {
        appendsPerCommit: first.appends && first.storeCalls.append ? first.appends.requests / first.storeCalls.append : undefined,
        eventsPerStep: first.appends ? first.appends.events / first.steps : undefined,
      },
    );
  }
  if (database) {
    const { counters, steps } = database;
    if (counters.statements !== undefined)
      add('pg-statements', 'Postgres statements / step (pg_stat_statements)', [counters.statements / steps]);
    add('pg-commits', 'Postgres commits / step (pg_stat_database)', [counters.xactCommit / steps], {
      note: 'xact_commit of the bench database from its creation to the engine closing its connections (warm-up and engine start included), over every step run on it; reads count too',
      steps,
      commits: counters.xactCommit,
      rollbacks: counters.xactRollback,
      rowsInsertedPerStep: counters.tupInserted / steps,
      rowsUpdatedPerStep: counters.tupUpdated / steps,
    });
  }
  if (first.log) {
    add(
      'log-bytes',
      'log bytes / step (pg_total_relation_size job_events)',
      runs.map((run) => (run.log?.relationBytes ?? 0) / run.steps),
      { eventsPerStep: first.log.events / first.steps },
    );
    add(
      'payload-bytes',
      'event payload bytes / step (sum octet_length(data))',
      runs.map((run) => (run.log?.payloadBytes ?? 0) / run.steps),
    );
  }
  for (const name of Object.keys(first.rssBytes)) {
    add(
      `rss-${name.replace(/\W+/g, '-')}`,
      `RSS of ${name} at the end (MB)`,
      runs.map((run) => (run.rssBytes[name] ?? 0) / MB),
    );
  }
  return rows;
}
