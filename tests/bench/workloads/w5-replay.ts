import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { foldEvents, type JobEvent, type JobState, jobRowOf, type RecordedEvent, resolveRetryPolicy } from '@ratchet/protocol';
import { type EventStore, PgliteEventStore, PostgresEventStore } from '@ratchet/store';
import { createBenchDatabase } from '../bench-database.ts';
import { type BenchContext, progress } from '../context.ts';
import type { StackKind } from '../options.ts';
import { type ResultRow, resultRow } from '../report.ts';
import { now } from '../stats.ts';

const FOLD_EVENTS = 100_000;
const STORED_EVENTS = 10_000;
const APPEND_BATCH = 500;

/**
 * A completed job's log of `events` events, shaped like the worker writes them: JobStarted, then
 * StepStarted (attempt 1, with its resolved retry policy) and StepCompleted per step, then
 * JobCompleted.
 */
export function syntheticLog(events: number): RecordedEvent[] {
  const steps = (events - 2) / 2;
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`a log of ${events} events is not 2 + 2 × steps`);
  const policy = resolveRetryPolicy({});
  const t0 = Date.UTC(2025, 0, 1);
  const log: JobEvent[] = [
    { type: 'JobStarted', workflow: 'bench-trivial-steps', version: '1', input: { steps }, epoch: 1, startedAt: t0 },
  ];
  for (let stepId = 0; stepId < steps; stepId++) {
    const at = t0 + stepId;
    log.push(
      { type: 'StepStarted', stepId, name: `s${stepId}`, attempt: 1, startedAt: at, worker: 'bench-worker-1', epoch: 1, policy },
      { type: 'StepCompleted', stepId, attempt: 1, output: 1, completedAt: at },
    );
  }
  log.push({ type: 'JobCompleted', output: steps, completedAt: t0 + steps });
  return log.map((event, i) => ({ seq: i + 1, recordedAt: t0 + Math.floor(i / 2), event }));
}

/** W5a: fold a 100,000-event log in memory with the protocol's `foldEvents`. */
export function w5Fold(ctx: BenchContext): ResultRow[] {
  const log = syntheticLog(FOLD_EVENTS);
  const fold = () => {
    const t0 = now();
    const state = foldEvents('bench-fold', log);
    const ms = now() - t0;
    if (state.status !== 'completed' || state.lastSeq !== FOLD_EVENTS)
      throw new Error(`fold ended at ${state.status} seq ${state.lastSeq}`);
    return ms;
  };
  progress('W5 fold in memory: warm-up');
  fold();
  const runs: number[] = [];
  for (let i = 1; i <= ctx.options.runs; i++) {
    const ms = fold();
    progress(`W5 fold run ${i}/${ctx.options.runs}: ${FOLD_EVENTS} events in ${ms.toFixed(1)} ms`);
    runs.push(ms);
  }
  return [
    resultRow({
      id: 'W5/fold/in-memory',
      section: 'workloads',
      workload: 'W5 replay',
      setup: 'in memory, foldEvents',
      metric: `events/s (fold of ${FOLD_EVENTS.toLocaleString('en-US')})`,
      samples: runs.map((ms) => (FOLD_EVENTS / ms) * 1000),
      target: { op: '>=', value: 1_000_000 },
      details: { events: FOLD_EVENTS, foldMs: runs.map((ms) => Number(ms.toFixed(2))) },
    }),
  ];
}

/** W5b: a 10,000-event job written through the store in batches, then `store.read` + `foldEvents` timed. */
export async function w5ReadAndFold(ctx: BenchContext, kind: StackKind): Promise<ResultRow[]> {
  let store: EventStore;
  let release: () => Promise<void>;
  if (kind === 'postgres+nats') {
    const database = await createBenchDatabase(ctx.postgresUrl, ctx.cleanup);
    store = new PostgresEventStore({ url: database.url });
    release = async () => {
      await store.close();
      await database.drop();
    };
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'ratchet-bench-w5-'));
    store = new PgliteEventStore({ dataDir: dir });
    release = async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const undo = ctx.cleanup.add(`W5 ${kind} store`, release);
  const setup = kind === 'postgres+nats' ? 'Postgres, PostgresEventStore' : 'PGlite, PgliteEventStore';
  try {
    await store.migrate();
    const jobId = 'bench-replay-10k';
    await writeLog(store, jobId, syntheticLog(STORED_EVENTS));
    const readAndFold = async () => {
      const t0 = now();
      const events = await store.read(jobId);
      const t1 = now();
      const state = foldEvents(jobId, events);
      const t2 = now();
      if (state.lastSeq !== STORED_EVENTS || state.status !== 'completed')
        throw new Error(`read back ${events.length} events, state at seq ${state.lastSeq}`);
      return { totalMs: t2 - t0, readMs: t1 - t0, foldMs: t2 - t1 };
    };
    progress(`W5 read + fold ${setup}: warm-up`);
    await readAndFold();
    const runs = [];
    for (let i = 1; i <= ctx.options.runs; i++) {
      const run = await readAndFold();
      progress(
        `W5 read + fold ${setup} run ${i}/${ctx.options.runs}: ${run.totalMs.toFixed(1)} ms (read ${run.readMs.toFixed(1)}, fold ${run.foldMs.toFixed(1)})`,
      );
      runs.push(run);
    }
    // A cold load as the engine does it: the snapshot taken at seq 9,000, then the 1,000 events after it.
    await store.writeSnapshot(foldEvents(jobId, (await store.read(jobId)).slice(0, STORED_EVENTS - 1000)));
    const loadLatest = async () => {
      const t0 = now();
      const { snapshot, events } = await store.readLatest(jobId);
      const state = foldEvents(jobId, events, snapshot);
      const ms = now() - t0;
      if (state.lastSeq !== STORED_EVENTS || events.length !== 1000) throw new Error(`snapshot load ended at seq ${state.lastSeq}`);
      return ms;
    };
    await loadLatest();
    const snapshotRuns: number[] = [];
    for (let i = 1; i <= ctx.options.runs; i++) snapshotRuns.push(await loadLatest());
    progress(`W5 snapshot + tail ${setup}: ${snapshotRuns.map((ms) => ms.toFixed(1)).join(', ')} ms`);
    return [
      resultRow({
        id: `W5/snapshot-load/${kind}`,
        section: 'workloads',
        workload: 'W5 replay',
        setup,
        metric: `ms to load the same job from a snapshot at seq 9,000 + 1,000 events`,
        samples: snapshotRuns,
        details: { snapshotSeq: STORED_EVENTS - 1000, tailEvents: 1000 },
      }),
      resultRow({
        id: `W5/read-fold/${kind}`,
        section: 'workloads',
        workload: 'W5 replay',
        setup,
        metric: `ms to read + fold ${STORED_EVENTS.toLocaleString('en-US')} events`,
        samples: runs.map((run) => run.totalMs),
        target: { op: '<=', value: 100 },
        details: {
          events: STORED_EVENTS,
          appendBatch: APPEND_BATCH,
          readMs: runs.map((run) => Number(run.readMs.toFixed(2))),
          foldMs: runs.map((run) => Number(run.foldMs.toFixed(2))),
        },
      }),
    ];
  } finally {
    await undo();
  }
}

/** Appends the log in batches of {@link APPEND_BATCH} events, each extending the last (as the engine would). */
async function writeLog(store: EventStore, jobId: string, log: readonly RecordedEvent[]): Promise<void> {
  let state: JobState | undefined;
  for (let from = 0; from < log.length; from += APPEND_BATCH) {
    const batch = log.slice(from, from + APPEND_BATCH);
    const expectedSeq = state?.lastSeq ?? 0;
    state = foldEvents(jobId, batch, state);
    const recordedAt = batch.at(-1)?.recordedAt ?? 0;
    const [result] = await store.append([
      {
        jobId,
        expectedSeq,
        events: batch.map((recorded) => recorded.event),
        recordedAt,
        job: jobRowOf(state),
        timers: { added: [], removed: [] },
      },
    ]);
    if (!result?.ok) throw new Error(`append at seq ${expectedSeq} of ${jobId} was refused: ${JSON.stringify(result)}`);
  }
}
