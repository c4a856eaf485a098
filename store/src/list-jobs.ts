import type { JobStatus } from '@ratchet/protocol';
import { type RawBuilder, sql } from 'kysely';

/** Which jobs a page of the job list holds; every field but `limit` narrows it. */
export interface JobListQuery {
  readonly status?: JobStatus;
  readonly workflow?: string;
  /** Jobs whose id starts with this (letters, digits and `._:-`, as job ids are). */
  readonly jobIdPrefix?: string;
  /** The keyset of the previous page's last job: the page starts after it. */
  readonly after?: JobListKey;
  readonly limit: number;
}

/** Where a job sits in the list's order: newest start first, then job id descending. */
export interface JobListKey {
  readonly startedAt: number;
  readonly jobId: string;
}

/**
 * Most jobs a prefix may match for the page to be found through the prefix index (then sorted by
 * start); a broader prefix (say the first characters of ULIDs, which every recent job shares) is
 * instead checked row by row while walking the start-time index, which soon fills a page.
 */
export const PREFIX_SORT_LIMIT = 2000;

/** How a page with a job id prefix finds its rows: through the prefix index, or by walking the start-time index. */
export type PrefixPlan = 'prefix-index' | 'start-order';

/**
 * Counts the jobs with the prefix, up to {@link PREFIX_SORT_LIMIT} + 1 (an index-only range
 * scan): how {@link listJobsStatement} should look for them.
 */
export function prefixProbeStatement(jobs: RawBuilder<unknown>, prefix: string): RawBuilder<{ matches: number }> {
  return sql<{ matches: number }>`select count(*)::int4 as matches from (
    select 1 from ${jobs} as j where ${prefixRange(prefix)} limit ${PREFIX_SORT_LIMIT + 1}::int4) as m`;
}

/**
 * The statement for one page of the job list. Its text depends only on which filters are set
 * (each shape is prepared once and, under a generic plan, still names its columns outright, so
 * the planner can pick the index of migration 0005 for it); the values are parameters.
 */
export function listJobsStatement(
  jobs: RawBuilder<unknown>,
  query: JobListQuery,
  columns: RawBuilder<unknown>,
  prefixPlan: PrefixPlan = 'prefix-index',
): RawBuilder<unknown> {
  const where: RawBuilder<unknown>[] = [];
  if (query.status !== undefined) where.push(sql`j.status = ${query.status}::text`);
  if (query.workflow !== undefined) where.push(sql`j.workflow = ${query.workflow}::text`);
  if (query.jobIdPrefix !== undefined) {
    // starts_with() matches no index: the planner walks the start-time order and filters.
    where.push(prefixPlan === 'prefix-index' ? prefixRange(query.jobIdPrefix) : sql`starts_with(j.job_id, ${query.jobIdPrefix}::text)`);
  }
  if (query.after !== undefined) {
    where.push(sql`(j.started_at, j.job_id) < (to_timestamp(${query.after.startedAt}::float8 / 1000), ${query.after.jobId}::text)`);
  }
  // ORDER BY names the table's columns (j.), not the output columns of the same names, which
  // hold the times as epoch milliseconds and have no index.
  return sql`select ${columns} from ${jobs} as j
    ${where.length === 0 ? sql`` : sql`where ${sql.join(where, sql` and `)}`}
    order by j.started_at desc, j.job_id desc
    limit ${query.limit}::int4`;
}

/** Job ids are ASCII below DEL, so in byte order every id with the prefix lies in [prefix, prefix || DEL). */
function prefixRange(prefix: string): RawBuilder<unknown> {
  return sql`j.job_id collate "C" >= ${prefix}::text and j.job_id collate "C" < ${`${prefix}\u007f`}::text`;
}

/** A job id prefix the list can search by, or a message naming what is wrong with it. */
export function jobIdPrefixProblem(prefix: string): string | undefined {
  return /^[A-Za-z0-9._:-]{1,200}$/.test(prefix)
    ? undefined
    : `a job id prefix must be 1-200 letters, digits or ._:- (got "${prefix.slice(0, 60)}")`;
}
