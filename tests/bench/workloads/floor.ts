import { connect } from '@nats-io/transport-node';
import { decode, encode } from '@ratchet/protocol';
import postgres from 'postgres';
import { createBenchDatabase } from '../bench-database.ts';
import { type BenchContext, progress } from '../context.ts';
import { type ResultRow, resultRow } from '../report.ts';
import { now, percentile } from '../stats.ts';

const COMMITS = 1000;
const REQUESTS = 2000;
const CODEC_ROUNDS = 50_000;

/**
 * What the machine itself costs, measured on the same servers as the workloads: a one-row
 * commit, a NATS request/reply, and encoding plus decoding a step event. A W2 step needs at least
 * one commit and one request; a W3 job at least two commits and three requests in a row. These
 * machines differ (and drift) by several times in exactly these, so W2 and W3 read against
 * this floor compare across machines where their absolute times do not.
 */
export async function machineFloor(ctx: BenchContext): Promise<ResultRow[]> {
  const database = await createBenchDatabase(ctx.postgresUrl, ctx.cleanup);
  const sql = postgres(database.url, { max: 1, onnotice: () => {} });
  const nc = await Promise.all([connect({ servers: ctx.natsUrl }), connect({ servers: ctx.natsUrl })]);
  try {
    await sql`create table floor (id bigserial primary key, data bytea not null)`;
    const subject = `bench.floor.${database.name}`;
    nc[1].subscribe(subject, {
      callback: (_error, message) => {
        message.respond(message.data);
      },
    });
    await nc[1].flush();
    const payload = encode({ type: 'StepCompleted', stepId: 1, attempt: 1, output: 1, completedAt: Date.now() });
    const runs: { commit: number[]; request: number[]; codecUs: number }[] = [];
    // The first pass warms connections, prepared statements and the JIT; it is not kept.
    for (let run = 0; run <= ctx.options.runs; run++) {
      const commit = await timeEach(COMMITS, () => sql`insert into floor (data) values (${payload})`);
      const request = await timeEach(REQUESTS, () => nc[0].request(subject, payload, { timeout: 5000 }));
      const t0 = now();
      for (let i = 0; i < CODEC_ROUNDS; i++) decode(encode(decode(payload)));
      const codecUs = ((now() - t0) / CODEC_ROUNDS) * 1000;
      if (run === 0) continue;
      runs.push({ commit, request, codecUs });
      progress(
        `floor: run ${run}/${ctx.options.runs}: commit p50 ${percentile(commit, 50).toFixed(3)} ms, ` +
          `NATS request p50 ${percentile(request, 50).toFixed(3)} ms, codec ${codecUs.toFixed(2)} µs`,
      );
    }
    const row = (id: string, metric: string, samples: number[]) =>
      resultRow({ id: `floor/${id}`, section: 'floor', workload: 'machine floor', setup: 'postgres+nats', metric, samples });
    const p = (key: 'commit' | 'request', q: number) => runs.map((run) => percentile(run[key], q));
    return [
      row('commit/p50', 'one-row insert, commit round trip p50 ms', p('commit', 50)),
      row('commit/p99', 'one-row insert, commit round trip p99 ms', p('commit', 99)),
      row('request/p50', 'NATS request/reply round trip p50 ms', p('request', 50)),
      row('request/p99', 'NATS request/reply round trip p99 ms', p('request', 99)),
      row(
        'codec',
        'decode + encode + decode of a step event, µs',
        runs.map((run) => run.codecUs),
      ),
      row(
        'w2',
        'W2 floor: 1 commit + 1 request (p50s) ms/step',
        runs.map((run) => percentile(run.commit, 50) + percentile(run.request, 50)),
      ),
      row(
        'w3',
        'W3 floor: 2 commits + 3 requests (p50s) ms',
        runs.map((run) => 2 * percentile(run.commit, 50) + 3 * percentile(run.request, 50)),
      ),
    ];
  } finally {
    await Promise.all(nc.map((connection) => connection.close()));
    await sql.end({ timeout: 5 });
    await database.drop();
  }
}

/** Runs `operation` `count` times one after another; the time of each, in ms. */
async function timeEach(count: number, operation: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = now();
    await operation();
    samples.push(now() - t0);
  }
  return samples;
}
