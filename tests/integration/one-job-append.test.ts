import type { JobRow, JobStatus, ValueRecorded } from '@ratchet/protocol';
import { type AppendRequest, type EventStore, PgliteEventStore, PostgresEventStore } from '@ratchet/store';
import { afterAll, describe, expect, it } from 'vitest';
import { type TestDatabase, testDatabase } from '../harness/index.ts';

// A batch that writes one job commits with a statement of its own (store/src/one-job-append.ts);
// it must write the same rows and give the same answers as the batch statement. Two stores get
// the same random appends: one alone (the one-job statement), the other each time together with
// a ballast append that conflicts and writes nothing but makes the batch one of two jobs (the
// batch statement): by turns an extension of a job that does not exist and a creation of one
// that does, so the batch statement runs with and without its parts for extending jobs.
// Whatever the two stores answer and hold must be equal.

const T0 = Date.UTC(2026, 10, 21, 12, 0, 0, 123);
const JOBS = ['job-a', 'job-b', 'job-c'];
const TIMER_IDS = ['sleep:0', 'sleep:1', 'retry:2', 'wait:3'];
const STATUSES: readonly JobStatus[] = ['running', 'completed', 'failed', 'cancelled', 'continued'];
const LEASE_MS = 60_000;
const ROUNDS = 80;
const SEEDS = [1, 2, 3];

/** A small seeded generator (mulberry32): a failing run names its seed and can be run again. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Backend {
  readonly name: string;
  /** Two migrated stores over logs of their own: the same two on every call (each seed has its own jobs). */
  stores(): Promise<[EventStore, EventStore]>;
}

let database: TestDatabase | undefined;
const opened: EventStore[] = [];
let schemas = 0;

/** Makes two stores and migrates them on the first call; later calls get the same two. */
function once(make: () => Promise<EventStore>): () => Promise<[EventStore, EventStore]> {
  let stores: Promise<[EventStore, EventStore]> | undefined;
  return () => {
    stores ??= (async () => {
      const pair: [EventStore, EventStore] = [await make(), await make()];
      opened.push(...pair);
      for (const store of pair) await store.migrate();
      return pair;
    })();
    return stores;
  };
}

const backends: Backend[] = [
  {
    name: 'Postgres',
    stores: once(async () => {
      database ??= await testDatabase();
      return new PostgresEventStore({ url: database.url, schema: `one_job_${++schemas}`, max: 2 });
    }),
  },
  // In memory: one PGlite instance may hold a directory at a time.
  { name: 'PGlite', stores: once(async () => new PgliteEventStore({ schema: `one_job_${++schemas}` })) },
];

afterAll(async () => {
  for (const store of opened.splice(0)) await store.close();
  await database?.drop();
});

/** The appends of one round: a lone request, a chain of a job's requests, or a broken chain. */
class Requests {
  readonly #next: () => number;
  /** The jobs it writes. */
  readonly jobs: readonly string[];
  /** Each job's last seq as the log has it (absent: no such job). */
  readonly lastSeq = new Map<string, number>();
  #value = 0;

  constructor(next: () => number, prefix: string) {
    this.#next = next;
    this.jobs = JOBS.map((jobId) => `${prefix}${jobId}`);
  }

  #int(n: number): number {
    return Math.floor(this.#next() * n);
  }

  #pick<T>(items: readonly T[]): T {
    return items[this.#int(items.length)] as T;
  }

  #chance(p: number): boolean {
    return this.#next() < p;
  }

  /** An expected seq for `jobId`: mostly the right one, sometimes stale, ahead, or a creation of one that exists. */
  #expectedSeq(jobId: string): number {
    const last = this.lastSeq.get(jobId);
    const roll = this.#next();
    if (last === undefined) return roll < 0.8 ? 0 : 1 + this.#int(3);
    if (roll < 0.7) return last;
    if (roll < 0.8) return 0;
    if (roll < 0.9) return Math.max(0, last - 1 - this.#int(3));
    return last + 1 + this.#int(2);
  }

  /** A request with random events (sometimes none), job row (finished or not) and timer changes. */
  request(jobId: string, expectedSeq: number, at: number): AppendRequest {
    const count = this.#chance(0.1) ? 0 : 1 + this.#int(3);
    const events: ValueRecorded[] = Array.from({ length: count }, () => ({
      type: 'ValueRecorded',
      position: this.#value++,
      kind: 'random',
      value: this.#next(),
    }));
    const status = this.#pick(STATUSES);
    const job: JobRow = {
      jobId,
      workflow: this.#pick(['checkout', 'refund']),
      version: this.#pick(['1', '2']),
      status,
      epoch: 1 + this.#int(4),
      lastSeq: expectedSeq + count,
      startedAt: T0 + this.#int(1000),
      updatedAt: at + this.#int(1000),
      ...(status === 'running' && this.#chance(0.8) ? {} : { finishedAt: at + this.#int(5000) }),
    };
    // Added ones are due now or soon (so some get claimed, and some claimed ones added again).
    const added = TIMER_IDS.filter(() => this.#chance(0.3)).map((timerId) => ({ timerId, fireAt: at + this.#int(3000) - 1000 }));
    // Sometimes a timer is added and removed by the same request (removal wins).
    const removed = TIMER_IDS.filter(() => this.#chance(0.25));
    return { jobId, expectedSeq, events, recordedAt: at + this.#int(10), job, timers: { added, removed } };
  }

  /** One round's batch, all of one job. */
  round(at: number): AppendRequest[] {
    const jobId = this.#chance(0.05) ? `${this.jobs[0]}-missing-${this.#int(1e9)}` : this.#pick(this.jobs);
    const batch = [this.request(jobId, this.#expectedSeq(jobId), at)];
    if (this.#chance(0.35)) {
      // A chain: each request extends the previous one, or (rarely) does not and loses.
      for (let i = 1 + this.#int(3); i > 0; i--) {
        const previous = batch.at(-1) as AppendRequest;
        const follows = previous.expectedSeq + previous.events.length;
        batch.push(this.request(jobId, this.#chance(0.85) ? follows : follows + 1 + this.#int(2), at));
      }
    }
    return batch;
  }

  /** Takes in what a round committed. */
  committed(batch: readonly AppendRequest[], results: readonly { ok: boolean }[]): void {
    batch.forEach((request, i) => {
      if (results[i]?.ok) this.lastSeq.set(request.jobId, request.job.lastSeq);
    });
  }
}

/** Everything the store answers about the jobs and timers. */
async function contents(store: EventStore, jobIds: readonly string[], now: number) {
  const byKey = (a: { jobId: string; timerId?: string }, b: { jobId: string; timerId?: string }) =>
    `${a.jobId}/${a.timerId ?? ''}`.localeCompare(`${b.jobId}/${b.timerId ?? ''}`);
  return {
    jobs: await Promise.all(jobIds.map(async (jobId) => ({ row: await store.getJob(jobId), events: await store.read(jobId) }))),
    nextTimerAt: await store.nextTimerAt(),
    runnable: [...(await store.listRunnableJobs(1000))].sort(byKey),
    // Claiming shows which timers are due and unclaimed (a re-added timer must have lost its claim).
    claimed: [...(await store.claimDueTimers(now, 1000, LEASE_MS))].sort(byKey),
  };
}

describe.each(backends)('the one-job append statement on $name', (backend) => {
  it.each(SEEDS)(
    'writes and answers as the batch statement does, for random appends (seed %i)',
    async (seed) => {
      const [alone, batched] = await backend.stores();
      const requests = new Requests(random(seed), `s${seed}-`);
      const [existingId, missingId] = [`s${seed}-ballast`, `s${seed}-no-such-job`];
      // The job the creating ballast finds: finished, so no list of running jobs shows it.
      const existing: AppendRequest = {
        jobId: existingId,
        expectedSeq: 0,
        events: [{ type: 'ValueRecorded', position: 0, kind: 'random', value: 0.5 }],
        recordedAt: T0,
        job: {
          jobId: existingId,
          workflow: 'w',
          version: '1',
          status: 'completed',
          epoch: 1,
          lastSeq: 1,
          startedAt: T0,
          updatedAt: T0,
          finishedAt: T0,
        },
        timers: { added: [], removed: [] },
      };
      for (const store of [alone, batched]) expect(await store.append([existing])).toEqual([{ jobId: existingId, ok: true }]);
      const touched = new Set<string>([...requests.jobs, existingId, missingId]);
      const outcomes = { ok: 0, conflict: 0, chained: 0, timersAdded: 0, timersRemoved: 0, finished: 0, claimsReset: 0 };
      const claimedBefore = new Set<string>();
      for (let round = 0; round < ROUNDS; round++) {
        const at = T0 + round * 500;
        const batch = requests.round(at);
        touched.add(batch[0]?.jobId as string);
        const ballast = round % 2 === 0 ? requests.request(missingId, 5, at) : requests.request(existingId, 0, at);
        const [one, two] = [await alone.append(batch), await batched.append([...batch, ballast])];
        expect(two.at(-1), `seed ${seed}, round ${round}: the ballast`).toEqual({ jobId: ballast.jobId, ok: false, reason: 'conflict' });
        expect(one, `seed ${seed}, round ${round}: ${JSON.stringify(batch.map((r) => r.expectedSeq))}`).toEqual(two.slice(0, -1));
        requests.committed(batch, one);
        for (const [i, request] of batch.entries()) {
          if (!one[i]?.ok) {
            outcomes.conflict++;
            continue;
          }
          outcomes.ok++;
          if (i > 0) outcomes.chained++;
          if (request.timers.added.length > 0) outcomes.timersAdded++;
          if (request.timers.removed.length > 0) outcomes.timersRemoved++;
          if (request.job.finishedAt !== undefined) outcomes.finished++;
        }
        // The round's job and the ballast's, each round; every job at the end.
        const ids = round === ROUNDS - 1 ? [...touched] : [batch[0]?.jobId as string, existingId, missingId];
        const [left, right] = [await contents(alone, ids, at), await contents(batched, ids, at)];
        expect(left, `seed ${seed}, round ${round}`).toEqual(right);
        // Claims outlast the test, so a timer claimed twice was added again in between.
        for (const { jobId, timerId } of left.claimed) {
          if (claimedBefore.has(`${jobId}/${timerId}`)) outcomes.claimsReset++;
          claimedBefore.add(`${jobId}/${timerId}`);
        }
      }
      // The random appends reached every case this test is for.
      for (const [what, count] of Object.entries(outcomes)) expect(count, what).toBeGreaterThan(5);
    },
    60_000,
  );
});
