import { type Kysely, sql } from 'kysely';
import { type Migration, Migrator } from 'kysely/migration';

/**
 * Brings the store's tables in `schema` up to date with kysely's `Migrator`: it creates the schema
 * and its bookkeeping tables race-safely and runs pending migrations in one transaction under a
 * Postgres advisory lock, so several engines starting at once migrate exactly once.
 */
export async function migrateSchema(db: Kysely<unknown>, schema: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations(schema) },
    migrationTableSchema: schema,
    migrationTableName: 'ratchet_migration',
    migrationLockTableName: 'ratchet_migration_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName;
    throw new Error(`store migration ${failed ?? '(setup)'} in schema "${schema}" failed: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Migrations in name order. Never edit one that has shipped: add the next. They take `schema`
 * because every table lives in the store's schema (tests isolate by schema).
 */
function migrations(schema: string): Record<string, Migration> {
  return {
    '0001_log': {
      async up(db: Kysely<unknown>) {
        const s = db.schema.withSchema(schema);
        await s
          .createTable('job_events')
          .addColumn('job_id', 'text', (c) => c.notNull())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('data', 'bytea', (c) => c.notNull())
          .addColumn('recorded_at', 'timestamptz', (c) => c.notNull())
          .addPrimaryKeyConstraint('job_events_pkey', ['job_id', 'seq'])
          .execute();
        await s
          .createTable('jobs')
          .addColumn('job_id', 'text', (c) => c.primaryKey())
          .addColumn('workflow', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('new', 'running', 'completed', 'failed')`))
          .addColumn('epoch', 'integer', (c) => c.notNull())
          .addColumn('last_seq', 'integer', (c) => c.notNull())
          .addColumn('started_at', 'timestamptz', (c) => c.notNull())
          .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
          .addColumn('finished_at', 'timestamptz')
          .execute();
        // Lists page through jobs by status, oldest first (and listRunnableJobs walks 'running').
        await s.createIndex('jobs_status_started_at').on('jobs').columns(['status', 'started_at']).execute();
        await s
          .createTable('timers')
          .addColumn('job_id', 'text', (c) => c.notNull())
          .addColumn('timer_id', 'text', (c) => c.notNull())
          .addColumn('fire_at', 'timestamptz', (c) => c.notNull())
          .addColumn('claimed_until', 'timestamptz')
          .addPrimaryKeyConstraint('timers_pkey', ['job_id', 'timer_id'])
          .execute();
        // claimDueTimers walks due timers in fire_at order.
        await s.createIndex('timers_fire_at').on('timers').column('fire_at').execute();
        // nextTimerAt needs the earliest lease expiry; claimed timers are few, so keep them apart.
        await s
          .createIndex('timers_claimed_until')
          .on('timers')
          .column('claimed_until')
          .where(sql.ref('claimed_until'), 'is not', null)
          .execute();
      },
    },
    '0002_cancelled_jobs': {
      async up(db: Kysely<unknown>) {
        // Jobs can end cancelled (client.cancel / client.terminate).
        const jobs = sql.id(schema, 'jobs');
        await sql`alter table ${jobs} drop constraint if exists jobs_status_check`.execute(db);
        await sql`alter table ${jobs} add constraint jobs_status_check check (status in ('new', 'running', 'completed', 'failed', 'cancelled'))`.execute(
          db,
        );
      },
    },
    '0003_breakers': {
      async up(db: Kysely<unknown>) {
        // Each breaker's transitions, in its own stream (name, seq).
        await db.schema
          .withSchema(schema)
          .createTable('breaker_events')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('data', 'bytea', (c) => c.notNull())
          .addColumn('recorded_at', 'timestamptz', (c) => c.notNull())
          .addPrimaryKeyConstraint('breaker_events_pkey', ['name', 'seq'])
          .execute();
      },
    },
    '0004_continued_jobs': {
      async up(db: Kysely<unknown>) {
        // Jobs can end by continuing as a new job (ctx.continueAsNew).
        const jobs = sql.id(schema, 'jobs');
        await sql`alter table ${jobs} drop constraint if exists jobs_status_check`.execute(db);
        await sql`alter table ${jobs} add constraint jobs_status_check check (status in ('new', 'running', 'completed', 'failed', 'cancelled', 'continued'))`.execute(
          db,
        );
      },
    },
    '0005_job_list_indexes': {
      async up(db: Kysely<unknown>) {
        // The job list (listJobs) pages newest first by (started_at, job_id), a keyset, never an
        // offset: each filter it offers gets an index in that order, so a page is one index range.
        // The status index gains job_id and replaces jobs_status_started_at (a prefix of it).
        // Only columns a job's row keeps for life (or changes once, status) are indexed, so the
        // per-append update of last_seq/updated_at stays a heap-only (HOT) update.
        const s = db.schema.withSchema(schema);
        await s.createIndex('jobs_started_at_job_id').on('jobs').columns(['started_at', 'job_id']).execute();
        await s.createIndex('jobs_status_started_at_job_id').on('jobs').columns(['status', 'started_at', 'job_id']).execute();
        await s.dropIndex('jobs_status_started_at').ifExists().execute();
        // Workflow and status together walk this one and check the status (no fourth index: each
        // costs every job's insert and its one status change, about 7 µs measured).
        await s.createIndex('jobs_workflow_started_at_job_id').on('jobs').columns(['workflow', 'started_at', 'job_id']).execute();
        // Search by jobId prefix is a range in byte order, whatever the database's collation.
        await s.createIndex('jobs_job_id_bytes').on('jobs').expression(sql`job_id collate "C"`).execute();
      },
    },
    '0006_job_snapshots': {
      async up(db: Kysely<unknown>) {
        // The latest snapshot of each job's JobState: a cache of the fold (the log stays the
        // truth), so loading a long job reads the snapshot and the events after it.
        await db.schema
          .withSchema(schema)
          .createTable('job_snapshots')
          .addColumn('job_id', 'text', (c) => c.primaryKey())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('format', 'integer', (c) => c.notNull())
          .addColumn('state', 'bytea', (c) => c.notNull())
          .execute();
      },
    },
    '0007_breaker_rows': {
      async up(db: Kysely<unknown>) {
        // Each breaker's whole state (counts, failure window, probes and their leases) in one row
        // that every engine reads and writes, compare-and-set on `version`, with the transitions
        // appended to its stream in the same statement. A breaker with a stream and no row yet
        // (written before this migration) gets its row, folded from the stream, when first used.
        await db.schema
          .withSchema(schema)
          .createTable('breakers')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('version', 'bigint', (c) => c.notNull())
          .addColumn('data', 'bytea', (c) => c.notNull())
          .execute();
      },
    },
  };
}
