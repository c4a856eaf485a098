// `node tests/bench/breaker-pair.ts [runs] [pairs]`: what one AcquireBreaker and the report of its
// outcome cost the engine's BreakerBoard on Postgres (DATABASE_URL, else the local server): the
// median over `pairs` sequential pairs per run, printed per kind of pair as the median of the runs
// with min–max, after the machine's floor (a one-row select and a one-row commit). Not part of
// `npm run bench`: it times one class of the engine, reached by path.
import { randomBytes } from 'node:crypto';
import { type ResolvedBreakerPolicy, resolveBreakerPolicy } from '@ratchet/protocol';
import { PostgresEventStore } from '@ratchet/store';
import postgres from 'postgres';
import { BreakerBoard } from '../../engine/src/breaker-board.ts';
import { now, percentile, summarize } from './stats.ts';

const url = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const runs = Number(process.argv[2] ?? 5);
const pairs = Number(process.argv[3] ?? 2000);

const closed = resolveBreakerPolicy('closed', { failureThreshold: 1e9, cooldown: '1s' });
const rate = resolveBreakerPolicy('rate', { failureRate: { threshold: 0.5, minimumCalls: 1e9, window: '50ms' }, cooldown: '1s' });

/** Each kind of pair: a policy, the outcome reported, and whether a second engine reports it (the breaker never opens). */
const kinds: readonly { name: string; policy: ResolvedBreakerPolicy; ok: boolean; other?: boolean }[] = [
  { name: 'closed, success reported', policy: closed, ok: true },
  { name: 'closed, failure reported', policy: closed, ok: false },
  { name: 'failure-rate window, success reported', policy: rate, ok: true },
  { name: 'closed, failure reported through a second engine', policy: closed, ok: false, other: true },
];

/** Median of `runs` runs (after one to warm up) of the median time of `count` calls of `call`, in ms. */
async function timed(count: number, call: (run: number) => Promise<unknown>): Promise<string> {
  const medians: number[] = [];
  for (let run = 0; run <= runs; run++) {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = now();
      await call(run);
      times.push(now() - t0);
    }
    if (run > 0) medians.push(percentile(times, 50));
  }
  const { median, min, max } = summarize(medians);
  return `${median.toFixed(3)} ms (runs ${min.toFixed(3)}-${max.toFixed(3)})`;
}

const schema = `breaker_pair_${randomBytes(4).toString('hex')}`;
const sql = postgres(url, { max: 1, onnotice: () => {} });
const stores = [new PostgresEventStore({ url, schema }), new PostgresEventStore({ url, schema })] as const;
try {
  await stores[0].migrate();
  await sql.unsafe(`create table ${schema}.floor (id bigserial primary key, data bytea not null)`);
  const row = Buffer.alloc(100);
  process.stdout.write(
    `floor: select ${await timed(pairs, () => sql`select 1`)}, one-row commit ${await timed(pairs, () => sql.unsafe(`insert into ${schema}.floor (data) values ($1)`, [row]))}\n`,
  );
  const boards = stores.map((store) => new BreakerBoard({ store, clock: Date.now })) as [BreakerBoard, BreakerBoard];
  for (const [k, kind] of kinds.entries()) {
    const time = await timed(pairs, async (run) => {
      const breaker = `pair-${k}-${run}`;
      const admission = await boards[0].acquire(breaker, kind.policy);
      if (!admission.admitted) throw new Error(`breaker ${breaker} turned a call away`);
      await boards[kind.other ? 1 : 0].report(breaker, { ok: kind.ok, probe: false });
    });
    process.stdout.write(`${kind.name}: ${time} per pair\n`);
  }
} finally {
  await Promise.all(stores.map((store) => store.close()));
  await sql.unsafe(`drop schema if exists ${schema} cascade`);
  await sql.end();
}
