import { applyBreakerEvent, type BreakerEvent, closedBreaker, resolveBreakerPolicy } from '@ratchet/protocol';
import { type BreakerRow, type EventStore, PgliteEventStore, PostgresEventStore } from '@ratchet/store';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TestDatabase, testDatabase, writeLegacyBreakerEvents } from '../harness/index.ts';

// Breaker rows (store migration 0007) on a real Postgres server and on PGlite: the row every
// engine shares, written compare-and-set on its version or under its lock, with the transitions
// appended to the breaker's stream in the same statement.

const T0 = Date.UTC(2026, 10, 21, 12, 0, 0, 123);
const policy = resolveBreakerPolicy('b', { failureThreshold: 3, cooldown: '1m' });
const opened: BreakerEvent = { type: 'BreakerOpened', until: T0 + 60_000, reason: '3 failures in a row' };

let database: TestDatabase | undefined;
let schemas = 0;
const stores: EventStore[] = [];

/** A migrated store over a schema no other test sees (a second one on the same schema with `shared`). */
async function open(kind: 'Postgres' | 'PGlite', shared?: string): Promise<{ store: EventStore; schema: string }> {
  const schema = shared ?? `breakers_${++schemas}`;
  const store =
    kind === 'Postgres'
      ? new PostgresEventStore({ url: (database as TestDatabase).url, schema, max: 4 })
      : new PgliteEventStore({ schema });
  stores.push(store);
  await store.migrate();
  return { store, schema };
}

beforeAll(async () => {
  database = await testDatabase();
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(async () => {
  await database?.drop();
});

/** One more failure in a row, as the engine's change would decide it. */
const oneMoreFailure = (row: BreakerRow) => ({
  state: { ...row.state, consecutiveFailures: row.state.consecutiveFailures + 1 },
  policy,
  events: [],
  recordedAt: T0,
});

describe.each(['Postgres', 'PGlite'] as const)('breaker rows on %s', (kind) => {
  it('opens a breaker never seen closed at version 1, and opens it again as it is', async () => {
    const { store } = await open(kind);
    expect(await store.openBreaker('b')).toEqual({ version: 1, state: closedBreaker('b') });
    expect(await store.openBreaker('b')).toEqual({ version: 1, state: closedBreaker('b') });
    expect(await store.listBreakers()).toEqual([{ version: 1, state: closedBreaker('b') }]);
  });

  it('writes the row only at the version it expects, appending its transitions in the same statement', async () => {
    const { store } = await open(kind);
    await store.openBreaker('b');
    const state = applyBreakerEvent(closedBreaker('b'), opened);
    expect(await store.writeBreaker('b', 1, { state, policy, events: [opened], recordedAt: T0 })).toBe(2);
    // A writer that read version 1 loses, and writes neither row nor events.
    const stale = { state: closedBreaker('b'), events: [{ type: 'BreakerClosed', reason: 'reset' } as const], recordedAt: T0 };
    expect(await store.writeBreaker('b', 1, stale)).toBeUndefined();
    expect(await store.openBreaker('b')).toEqual({ version: 2, state, policy });
    expect(await store.readBreakerEvents('b')).toEqual([{ name: 'b', seq: 1, recordedAt: T0, event: opened }]);
    // Counts change without a transition: the row moves on, the stream does not.
    expect(await store.writeBreaker('b', 2, { state: { ...state, consecutiveFailures: 0 }, policy, events: [], recordedAt: T0 })).toBe(3);
    expect(await store.readBreakerEvents()).toHaveLength(1);
  });

  it('applies every change made under the row lock, however many run at once', async () => {
    const { store } = await open(kind);
    await store.openBreaker('b');
    const rows = await Promise.all(Array.from({ length: 20 }, () => store.updateBreaker('b', oneMoreFailure)));
    expect(rows.map((row) => row.state.consecutiveFailures).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await store.openBreaker('b')).toMatchObject({ version: 21, state: { consecutiveFailures: 20 }, policy });
    // A change that decides nothing writes nothing.
    expect(await store.updateBreaker('b', () => undefined)).toMatchObject({ version: 21 });
  });
});

describe('breaker rows on Postgres shared by two stores', () => {
  it('let one of two writers at the same version win, and serialise changes under the lock', async () => {
    const { store, schema } = await open('Postgres');
    const { store: other } = await open('Postgres', schema);
    await store.openBreaker('b');
    const write = (s: EventStore) =>
      s.writeBreaker('b', 1, { state: applyBreakerEvent(closedBreaker('b'), opened), events: [opened], recordedAt: T0 });
    const versions = await Promise.all([write(store), write(other), write(store), write(other)]);
    expect(versions.filter((v) => v !== undefined)).toEqual([2]);
    expect(await store.readBreakerEvents('b')).toHaveLength(1);
    await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? store : other).updateBreaker('b', oneMoreFailure)));
    expect(await other.openBreaker('b')).toMatchObject({ version: 32, state: { consecutiveFailures: 30 } });
  });

  it('fold the stream of a breaker without a row, to list it and to open it', async () => {
    const { store, schema } = await open('Postgres');
    await writeLegacyBreakerEvents((database as TestDatabase).url, 'old', [opened, { type: 'BreakerHalfOpened' }], schema);
    const state = { ...closedBreaker('old'), status: 'half-open', openUntil: opened.until };
    expect(await store.listBreakers()).toEqual([{ version: 0, state }]);
    expect(await store.openBreaker('old')).toEqual({ version: 1, state });
    expect(await store.listBreakers()).toEqual([{ version: 1, state }]);
  });
});
