import { decode } from '@ratchet/protocol';
import { withAdmin } from './bench-database.ts';

/**
 * For a report when a workload stalls: the jobs of a database that have not finished, each with
 * the tail of its log in short form ("seq Type key=value …").
 */
export async function unfinishedJobs(databaseUrl: string, limit = 3, tail = 10): Promise<string[]> {
  return withAdmin(databaseUrl, async (sql) => {
    const [count] = await sql<{ n: string }[]>`select count(*) as n from jobs where status not in ('completed', 'failed')`;
    const jobs = await sql<{ job_id: string; status: string; epoch: number; last_seq: number; updated_at: Date }[]>`
      select job_id, status, epoch, last_seq, updated_at from jobs where status not in ('completed', 'failed') order by updated_at limit ${limit}`;
    const lines = [`${count?.n ?? 0} unfinished jobs`];
    for (const job of jobs) {
      const events = await sql<{ seq: number; type: string; data: Uint8Array; recorded_at: Date }[]>`
        select seq, type, data, recorded_at from job_events where job_id = ${job.job_id} order by seq desc limit ${tail}`;
      lines.push(`job ${job.job_id}: ${job.status}, epoch ${job.epoch}, last seq ${job.last_seq}, updated ${job.updated_at.toISOString()}`);
      for (const event of events.reverse())
        lines.push(`    ${event.seq} ${event.recorded_at.toISOString().slice(11)} ${event.type} ${brief(event.data)}`);
    }
    return lines;
  });
}

function brief(data: Uint8Array): string {
  try {
    const event = decode(data) as Record<string, unknown>;
    return ['stepId', 'name', 'attempt', 'epoch', 'worker', 'final']
      .filter((key) => event[key] !== undefined)
      .map((key) => `${key}=${String(event[key])}`)
      .concat(event.failure ? [`failure=${JSON.stringify(event.failure).slice(0, 160)}`] : [])
      .join(' ');
  } catch {
    return `(${data.byteLength} bytes)`;
  }
}
