import { type BreakerEvent, decode, encode, foldBreakerEvents } from '@ratchet/protocol';
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { BreakerRow, BreakerWrite, RecordedBreakerEvent } from './event-store.ts';

/** The breakers' tables, as identifiers qualified by the store's schema. */
export interface BreakerTables {
  readonly breakers: RawBuilder<unknown>;
  readonly events: RawBuilder<unknown>;
}

export function breakerTables(schema: string): BreakerTables {
  return { breakers: sql.id(schema, 'breakers'), events: sql.id(schema, 'breaker_events') };
}

/**
 * Runs a statement and resolves to its rows: through kysely on a database or a transaction, or
 * on the store's single-statement path (see `KyselyEventStoreOptions.statements`).
 */
export type RunBreakerStatement = <R>(statement: RawBuilder<R>) => Promise<readonly R[]>;

/** Runs statements through kysely on `db` (a database or a transaction). */
export function runOn(db: Kysely<unknown>): RunBreakerStatement {
  return async <R>(statement: RawBuilder<R>) => (await statement.execute(db)).rows;
}

/** The row's `data`: the state and policy as MessagePack. */
type RowData = Omit<BreakerRow, 'version'>;

/** The breaker's row, or undefined; `lock` takes its row lock (inside a transaction). */
export async function readBreakerRow(
  run: RunBreakerStatement,
  t: BreakerTables,
  name: string,
  lock = false,
): Promise<BreakerRow | undefined> {
  const rows = await run(sql<{ version: number; data: Uint8Array }>`
    select version::float8 as version, data from ${t.breakers} where name = ${name}${lock ? sql` for update` : sql``}`);
  const row = rows[0];
  return row === undefined ? undefined : rowOf(row.version, row.data);
}

/**
 * The breaker's row, created (at version 1) when missing from what its stream says: a breaker
 * only engines before the `breakers` table wrote, or none at all (closed).
 */
export async function openBreakerRow(run: RunBreakerStatement, t: BreakerTables, name: string): Promise<BreakerRow> {
  const existing = await readBreakerRow(run, t, name);
  if (existing) return existing;
  const state = foldBreakerEvents(
    name,
    (await readBreakerEvents(run, t, name)).map((recorded) => recorded.event),
  );
  const rows = await run(sql<{ version: number }>`
    insert into ${t.breakers} (name, version, data) values (${name}, 1, ${encode({ state } satisfies RowData)})
    on conflict (name) do nothing
    returning version::float8 as version`);
  if (rows.length > 0) return { version: 1, state };
  // Another engine created it between the two statements: it is there now.
  const created = await readBreakerRow(run, t, name);
  if (!created) throw new Error(`breaker "${name}": its row was neither created nor found`);
  return created;
}

/**
 * One statement: writes the row if it is still at `expectedVersion`, and only then appends
 * `write.events` to the breaker's stream after its last. A writer that waited for the row's lock
 * re-checks the version on the row as the other left it, and loses.
 */
export async function writeBreakerRow(
  run: RunBreakerStatement,
  t: BreakerTables,
  name: string,
  expectedVersion: number,
  write: BreakerWrite,
): Promise<number | undefined> {
  const data = encode({ state: write.state, ...(write.policy ? { policy: write.policy } : {}) } satisfies RowData);
  const events = write.events.map((event) => Buffer.from(encode(event)).toString('hex'));
  const at = write.recordedAt;
  const rows = await run(sql<{ version: number }>`
    with updated as (
      update ${t.breakers} set version = version + 1, data = ${data}
      where name = ${name} and version = ${expectedVersion}::int8
      returning version
    ), appended as (
      insert into ${t.events} (name, seq, data, recorded_at)
      select ${name}, coalesce((select max(seq) from ${t.events} where name = ${name}), 0) + d.n, decode(d.data, 'hex'),
        to_timestamp(${at}::float8 / 1000)
      from unnest(${events}::text[]) with ordinality as d(data, n)
      where exists (select 1 from updated)
    )
    select version::float8 as version from updated`);
  return rows[0]?.version;
}

/**
 * In one transaction: reads the breaker's row under its lock (it must exist: see
 * {@link openBreakerRow}), asks `change` what to write (undefined: nothing) and writes it with
 * its events. Other writers of the row wait meanwhile, so `change` must only compute.
 */
export function updateBreakerRow(
  db: Kysely<unknown>,
  t: BreakerTables,
  name: string,
  change: (row: BreakerRow) => BreakerWrite | undefined,
): Promise<BreakerRow> {
  return db.transaction().execute(async (trx) => {
    const row = await readBreakerRow(runOn(trx), t, name, true);
    if (!row) throw new Error(`breaker "${name}" has no row to update (open it first)`);
    const write = change(row);
    if (write === undefined) return row;
    const version = await writeBreakerRow(runOn(trx), t, name, row.version, write);
    if (version === undefined) throw new Error(`breaker "${name}": the write under its row's lock lost`);
    return { version, state: write.state, ...(write.policy ? { policy: write.policy } : {}) };
  });
}

/** Each breaker's transitions, oldest first; only `name`'s when given. */
export async function readBreakerEvents(run: RunBreakerStatement, t: BreakerTables, name?: string): Promise<RecordedBreakerEvent[]> {
  const only = name === undefined ? sql`` : sql` where name = ${name}`;
  const rows = await run(sql<{ name: string; seq: number; data: Uint8Array; recorded_at: number }>`
    select name, seq, data, round(extract(epoch from recorded_at) * 1000)::float8 as recorded_at
    from ${t.events}${only} order by name, seq`);
  return rows.map((row) => ({ name: row.name, seq: row.seq, recordedAt: row.recorded_at, event: decode(row.data) as BreakerEvent }));
}

/**
 * Every breaker's row in one statement; a breaker that has a stream and no row yet (only engines
 * before the `breakers` table wrote it) is folded from its stream, at version 0.
 */
export async function listBreakerRows(run: RunBreakerStatement, t: BreakerTables): Promise<BreakerRow[]> {
  // `n`: a row's version, or an event's seq.
  const rows = await run(sql<{ name: string; kind: number; n: number; data: Uint8Array }>`
    select name, 0 as kind, version::float8 as n, data from ${t.breakers}
    union all
    select e.name, 1 as kind, e.seq::float8 as n, e.data from ${t.events} as e
    where not exists (select 1 from ${t.breakers} as b where b.name = e.name)
    order by name, kind, n`);
  const result: BreakerRow[] = [];
  const streams = new Map<string, BreakerEvent[]>();
  for (const row of rows) {
    if (row.kind === 0) result.push(rowOf(row.n, row.data));
    else {
      const stream = streams.get(row.name) ?? [];
      stream.push(decode(row.data) as BreakerEvent);
      streams.set(row.name, stream);
    }
  }
  for (const [name, stream] of streams) result.push({ version: 0, state: foldBreakerEvents(name, stream) });
  return result;
}

function rowOf(version: number, data: Uint8Array): BreakerRow {
  const { state, policy } = decode(data) as RowData;
  return { version, state, ...(policy ? { policy } : {}) };
}
