import { withAdmin } from './bench-database.ts';
import { sleep } from './stats.ts';

/** Counters of one database from `pg_stat_database`. */
export interface DatabaseCounters {
  readonly xactCommit: number;
  readonly xactRollback: number;
  readonly tupInserted: number;
  readonly tupUpdated: number;
  readonly tupDeleted: number;
  /** Statements run in the database, when `pg_stat_statements` is loaded (else undefined). */
  readonly statements: number | undefined;
}

/**
 * Snapshot of `pg_stat_database` (and `pg_stat_statements`, if the server loads it) for the
 * database `name`, read through a connection to the admin database so the snapshot itself is
 * not counted.
 */
export async function databaseCounters(adminUrl: string, name: string): Promise<DatabaseCounters> {
  return withAdmin(adminUrl, async (sql) => {
    const [row] = await sql<
      { xact_commit: string; xact_rollback: string; tup_inserted: string; tup_updated: string; tup_deleted: string }[]
    >`
      select xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted from pg_stat_database where datname = ${name}`;
    if (!row) throw new Error(`pg_stat_database has no row for ${name}`);
    let statements: number | undefined;
    try {
      const [calls] = await sql<{ calls: string | null }[]>`
        select sum(s.calls) as calls from pg_stat_statements s join pg_database d on d.oid = s.dbid where d.datname = ${name}`;
      statements = Number(calls?.calls ?? 0);
    } catch {
      statements = undefined; // not in shared_preload_libraries, or the extension is not created
    }
    return {
      xactCommit: Number(row.xact_commit),
      xactRollback: Number(row.xact_rollback),
      tupInserted: Number(row.tup_inserted),
      tupUpdated: Number(row.tup_updated),
      tupDeleted: Number(row.tup_deleted),
      statements,
    };
  });
}

/**
 * The counters once every backend of the database has published its statistics. A busy backend
 * publishes at most once a second and an idle one up to 10 s later, but every backend publishes
 * when it exits: call this after the clients of the database have closed their connections. It
 * reads until two reads a quarter second apart agree (at most 15 s).
 */
export async function finalCounters(adminUrl: string, name: string): Promise<DatabaseCounters> {
  let last = await databaseCounters(adminUrl, name);
  for (let i = 0; i < 60; i++) {
    await sleep(250);
    const next = await databaseCounters(adminUrl, name);
    if (next.xactCommit === last.xactCommit && next.tupInserted === last.tupInserted) return next;
    last = next;
  }
  return last;
}

/** How big the log is: the whole `job_events` relation (heap, index, TOAST) and its payload bytes. */
export interface LogSize {
  readonly events: number;
  readonly relationBytes: number;
  readonly payloadBytes: number;
}

export async function logSize(databaseUrl: string): Promise<LogSize> {
  return withAdmin(databaseUrl, async (sql) => {
    const [row] = await sql<{ events: string; relation: string; payload: string | null }[]>`
      select count(*) as events, pg_total_relation_size('job_events') as relation, sum(octet_length(data)) as payload from job_events`;
    return { events: Number(row?.events ?? 0), relationBytes: Number(row?.relation ?? 0), payloadBytes: Number(row?.payload ?? 0) };
  });
}
