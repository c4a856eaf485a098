import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { foldEvents, type JobEvent, jobRowOf, resolveRetryPolicy } from '@ratchet/protocol';
import { type AppendRequest, PostgresEventStore } from '@ratchet/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteStreams, ratchet, ratchetBin, type TestDatabase, testDatabase, testNats } from '../harness/index.ts';

// `ratchet verify` replays running jobs at hundreds a second (issue 5: "make it fast").

const JOBS = 1000;
const ITEMS = 20;
/** Timed runs of the whole gate; the fastest is what the work costs (other work only adds time). */
const RUNS = 3;
const workflows = join(new URL('../..', import.meta.url).pathname, 'tests/fixtures/verify-workflows.ts');

/** The log of a `batch` job parked on its sleep: its start, a step per item, the timer (42 events for 20 items). */
function parkedJob(startedAt: number): JobEvent[] {
  const policy = resolveRetryPolicy({});
  const events: JobEvent[] = [{ type: 'JobStarted', workflow: 'batch', version: '', input: { items: ITEMS }, epoch: 1, startedAt }];
  for (let stepId = 0; stepId < ITEMS; stepId++) {
    const at = startedAt + stepId;
    events.push(
      { type: 'StepStarted', stepId, name: `item-${stepId}`, attempt: 1, startedAt: at, worker: 'speed-worker', epoch: 1, policy },
      { type: 'StepCompleted', stepId, attempt: 1, output: stepId, completedAt: at },
    );
  }
  events.push({ type: 'TimerStarted', position: ITEMS, fireAt: startedAt + 3_600_000 });
  return events;
}

describe('ratchet verify against a ratchet engine on real Postgres and NATS', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let engineProcess: ChildProcess;
  beforeAll(async () => {
    database = await testDatabase();
    const nats = testNats();
    env = { DATABASE_URL: database.url, NATS_URL: nats.url, RATCHET_PREFIX: nats.prefix, RATCHET_LOG_LEVEL: 'warn' };
    engineProcess = spawn(process.execPath, [ratchetBin, 'engine', '--http-port', '0'], {
      env: { ...process.env, ...env },
      stdio: 'inherit',
    });
  });
  afterAll(async () => {
    engineProcess.kill('SIGTERM');
    await new Promise((resolve) => (engineProcess.exitCode === null ? engineProcess.once('exit', resolve) : resolve(null)));
    await deleteStreams(env.NATS_URL as string, env.RATCHET_PREFIX as string);
    await database.drop();
  });

  it(`replays ${JOBS} running jobs of ${2 * ITEMS + 2} events at hundreds a second`, async () => {
    // The logs written straight to the store, as the engine would have, a hundred jobs an append.
    const store = new PostgresEventStore({ url: database.url });
    try {
      await store.migrate(); // the engine process may still be starting
      const startedAt = Date.now() - 60_000;
      for (let from = 0; from < JOBS; from += 100) {
        const appends: AppendRequest[] = [];
        for (let i = from; i < from + 100; i++) {
          const jobId = `verify-${String(i).padStart(4, '0')}`;
          const events = parkedJob(startedAt + i);
          const state = foldEvents(
            jobId,
            events.map((event, n) => ({ seq: n + 1, recordedAt: startedAt + i, event })),
          );
          appends.push({
            jobId,
            expectedSeq: 0,
            events,
            recordedAt: startedAt + i,
            job: jobRowOf(state),
            timers: { added: Object.values(state.timers), removed: [] },
          });
        }
        expect((await store.append(appends)).every((result) => result.ok)).toBe(true);
      }
    } finally {
      await store.close();
    }

    const rates: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      let verified = await ratchet(['verify', '--workflows', workflows], env);
      // The engine process may still be starting: retry until it answers.
      for (let i = 0; i < 40 && verified.code !== 0 && /no responders/.test(verified.stderr); i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        verified = await ratchet(['verify', '--workflows', workflows], env);
      }
      expect(verified, verified.stderr).toMatchObject({ code: 0 });
      // What the gate says of itself: the replays, after the module has loaded.
      const said = new RegExp(`^${JOBS} running jobs replayed in [\\d.]+ s \\((\\d+)/s\\): all deterministic$`, 'm').exec(verified.stdout);
      expect(said, verified.stdout).not.toBeNull();
      rates.push(Number(said?.[1]));
    }
    process.stderr.write(`ratchet verify of ${JOBS} running jobs: ${rates.join(', ')} jobs/s\n`);
    expect(Math.max(...rates)).toBeGreaterThanOrEqual(200);
  });
});
