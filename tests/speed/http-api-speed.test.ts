import { Engine, HttpServer } from '@ratchet/engine';
import { foldEvents } from '@ratchet/protocol';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietLogger, type Stack, startStack } from '../harness/index.ts';
import { longJobEvents, writeLongJob } from './long-job.ts';

const JOBS = 100_000;
const BIG_JOB_EVENTS = 10_000;
/** Where the job's snapshot is: as old as the engine's snapshot taker (every 1,000 events) leaves one. */
const SNAPSHOT_SEQ = BIG_JOB_EVENTS - 999;
const RUNS = 7;
/** The bound on the median of each call (the job list page, the job page of a 10,000-event job). */
const BOUND_MS = 200;
const WORKFLOWS = 20;
const T0 = Date.UTC(2026, 0, 1);

/** The median of `RUNS` timed calls, after one warm-up; each call must answer 200. */
async function median(url: string): Promise<{ median: number; runs: number[]; bytes: number }> {
  const once = async () => {
    const started = performance.now();
    const response = await fetch(url);
    const body = await response.arrayBuffer();
    const ms = performance.now() - started;
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${Buffer.from(body).toString()}`);
    return { ms, bytes: body.byteLength };
  };
  await once();
  const runs: number[] = [];
  let bytes = 0;
  for (let i = 0; i < RUNS; i++) {
    const run = await once();
    runs.push(run.ms);
    bytes = run.bytes;
  }
  const sorted = [...runs].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)] as number, runs, bytes };
}

describe('HTTP API speed on real Postgres: 100,000 jobs and a job of 10,000 events', () => {
  let stack: Stack;
  let server: HttpServer;
  let base: string;
  const results: { call: string; median: number; runs: number[]; bytes: number }[] = [];

  beforeAll(async () => {
    stack = await startStack('postgres+nats');
    const sql = postgres(stack.env.DATABASE_URL as string, { max: 1, onnotice: () => {} });
    try {
      // 100,000 jobs straight into the projection: 20 workflows, 70% completed, 10% each running,
      // failed and cancelled, two jobs per start second (so paging must break ties by job id).
      await sql.unsafe(`
        insert into jobs (job_id, workflow, version, status, epoch, last_seq, started_at, updated_at, finished_at)
        select 'job-' || lpad(i::text, 6, '0'), 'workflow-' || (i % ${WORKFLOWS}), '1',
          case when i % 10 = 0 then 'running' when i % 10 = 1 then 'failed' when i % 10 = 2 then 'cancelled' else 'completed' end,
          1, 5, to_timestamp((${T0} + (i / 2) * 1000) / 1000.0), to_timestamp((${T0} + (i / 2) * 1000 + 500) / 1000.0),
          case when i % 10 = 0 then null else to_timestamp((${T0} + (i / 2) * 1000 + 500) / 1000.0) end
        from generate_series(1, ${JOBS}) as i`);
      const events = longJobEvents(BIG_JOB_EVENTS, T0);
      await writeLongJob(sql, events, T0);
      await sql.unsafe('analyze jobs; analyze job_events');
    } finally {
      await sql.end();
    }
    server = new HttpServer({ engine: stack.engine, store: stack.store });
    base = `http://127.0.0.1:${await server.listen(0)}`;
  }, 120_000);

  afterAll(async () => {
    if (results.length > 0) {
      const lines = results.map(
        (r) =>
          `  ${r.call.padEnd(58)} median ${r.median.toFixed(1).padStart(6)} ms  (runs ${r.runs.map((ms) => ms.toFixed(1)).join(', ')})  ${r.bytes} bytes`,
      );
      process.stdout.write(
        `\nHTTP API speed, ${JOBS.toLocaleString('en-US')} jobs and a ${BIG_JOB_EVENTS.toLocaleString('en-US')}-event job, median of ${RUNS} (uncached: of 5):\n${lines.join('\n')}\n`,
      );
    }
    await server?.close();
    await stack?.close();
  });

  const measure = async (call: string, path: string) => {
    const result = await median(`${base}${path}`);
    results.push({ call, ...result });
    expect(result.median, `${call}: median of ${result.runs.map((ms) => ms.toFixed(1)).join(', ')} ms`).toBeLessThan(BOUND_MS);
    return result;
  };

  it('pages the job list in under 200 ms, first page or deep, with any filter', async () => {
    // The cursor of the job halfway down the list: a deep page costs what the first does (keyset, no offset).
    const middle = (await stack.store.listJobs({ limit: 1, after: { startedAt: T0 + (JOBS / 4) * 1000, jobId: 'job-~' } }))[0];
    expect(middle).toBeDefined();
    const deep = Buffer.from(JSON.stringify([middle?.startedAt, middle?.jobId])).toString('base64url');
    await measure('GET /api/jobs (first page of 50)', '/api/jobs');
    await measure('GET /api/jobs?limit=500', '/api/jobs?limit=500');
    await measure('GET /api/jobs?after=<halfway>', `/api/jobs?after=${deep}`);
    await measure('GET /api/jobs?status=running', '/api/jobs?status=running');
    await measure('GET /api/jobs?status=failed&after=<halfway>', `/api/jobs?status=failed&after=${deep}`);
    await measure('GET /api/jobs?workflow=workflow-7', '/api/jobs?workflow=workflow-7');
    await measure('GET /api/jobs?workflow=workflow-7&status=cancelled', '/api/jobs?workflow=workflow-7&status=cancelled');
    await measure('GET /api/jobs?q=job-0421 (10 matches)', '/api/jobs?q=job-0421');
    await measure('GET /api/jobs?q=job-042 (1,000 matches)', '/api/jobs?q=job-042');
    await measure('GET /api/jobs?q=job-04 (10,000 matches)', '/api/jobs?q=job-04');
    await measure('GET /api/jobs?q=job- (every job matches)', '/api/jobs?q=job-');
    await measure('GET /api/jobs?q=job-04&status=running&after=<halfway>', `/api/jobs?q=job-04&status=running&after=${deep}`);
    await measure('GET /api/jobs?q=nothing-matches', '/api/jobs?q=nothing-matches');

    // The pages are right, not only fast: two consecutive pages, newest first, disjoint.
    const first = (await (await fetch(`${base}/api/jobs?limit=3`)).json()) as { jobs: { jobId: string }[]; next: string };
    const second = (await (await fetch(`${base}/api/jobs?limit=3&after=${first.next}`)).json()) as { jobs: { jobId: string }[] };
    expect([...first.jobs, ...second.jobs].map((job) => job.jobId)).toEqual([
      'job-100000',
      'job-099999',
      'job-099998',
      'job-099997',
      'job-099996',
      'job-099995',
    ]);
    const filtered = (await (await fetch(`${base}/api/jobs?q=job-0421&status=running`)).json()) as {
      jobs: { jobId: string; status: string }[];
    };
    const broad = (await (await fetch(`${base}/api/jobs?q=job-04&limit=3`)).json()) as { jobs: { jobId: string }[]; next: string };
    const broadNext = (await (await fetch(`${base}/api/jobs?q=job-04&limit=2&after=${broad.next}`)).json()) as {
      jobs: { jobId: string }[];
    };
    expect([...broad.jobs, ...broadNext.jobs].map((job) => job.jobId)).toEqual([
      'job-049999',
      'job-049998',
      'job-049997',
      'job-049996',
      'job-049995',
    ]);
    expect(filtered.jobs.map((job) => job.jobId)).toEqual([
      'job-042190',
      'job-042180',
      'job-042170',
      'job-042160',
      'job-042150',
      'job-042140',
      'job-042130',
      'job-042120',
      'job-042110',
      'job-042100',
    ]);
  });

  it('answers the job page of a 10,000-event job in under 200 ms', async () => {
    // A first read by an engine that has not cached the job (a fresh one on the same store;
    // serving commands needs no start()) reads the latest snapshot and folds the log's tail.
    const cold = async (call: string) => {
      const runs: number[] = [];
      let text = '';
      for (let i = 0; i < 5; i++) {
        const fresh = new HttpServer({
          engine: new Engine({ store: stack.store, transport: stack.transport, prefix: `${stack.prefix}cold`, logger: quietLogger() }),
          store: stack.store,
        });
        const freshBase = `http://127.0.0.1:${await fresh.listen(0)}`;
        try {
          const started = performance.now();
          text = await (await fetch(`${freshBase}/api/jobs/long-job`)).text();
          runs.push(performance.now() - started);
        } finally {
          await fresh.close();
        }
      }
      const median = [...runs].sort((a, b) => a - b)[2] as number;
      results.push({ call, median, runs, bytes: Buffer.byteLength(text) });
      const body = JSON.parse(text) as { job: { lastSeq: number; status: string }; state: { journal: unknown[] } };
      expect(body.job).toMatchObject({ lastSeq: BIG_JOB_EVENTS, status: 'running' });
      expect(body.state.journal).toHaveLength(5000);
      return { median, runs };
    };
    // Written straight to the store, the log has no snapshot yet: the whole of it is read and
    // folded. Reported, not asserted: an engine writing these events would have taken snapshots.
    await cold('GET /api/jobs/long-job, uncached, no snapshot (read + fold all)');
    // The snapshot the engine's snapshot taker leaves at the latest on the last 1,000 events
    // (every 1,000 appended), here at its oldest: 999 events of tail to read and fold.
    const recorded = longJobEvents(BIG_JOB_EVENTS, T0)
      .slice(0, SNAPSHOT_SEQ)
      .map((event, i) => ({ seq: i + 1, recordedAt: T0 + i * 5, event }));
    await stack.store.writeSnapshot(foldEvents('long-job', recorded));
    const { median, runs } = await cold(`GET /api/jobs/long-job, uncached (snapshot at ${SNAPSHOT_SEQ} + tail)`);
    expect(median, `uncached job page: ${runs.map((ms) => ms.toFixed(1)).join(', ')} ms`).toBeLessThan(BOUND_MS);

    await measure('GET /api/jobs/long-job (job + folded state)', '/api/jobs/long-job');
    await measure('GET /api/jobs/long-job/events (first 500)', '/api/jobs/long-job/events');
    await measure('GET /api/jobs/long-job/events?after=9000', '/api/jobs/long-job/events?after=9000');
    await measure('GET /api/jobs/long-job/state?at=10000 (read + fold)', '/api/jobs/long-job/state?at=10000');
    await measure('GET /api/jobs/long-job/state?at=5000 (read + fold)', '/api/jobs/long-job/state?at=5000');
  });
});
