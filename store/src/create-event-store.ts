import type { EventStore } from './event-store.ts';
import { PgliteEventStore, type PgliteEventStoreOptions } from './pglite-event-store.ts';
import { PostgresEventStore, type PostgresEventStoreOptions } from './postgres-event-store.ts';

/** Either store's options: a `url` or `sql` client means Postgres, anything else PGlite. */
export type EventStoreOptions = PostgresEventStoreOptions | PgliteEventStoreOptions;

/**
 * Opens the store the options point at: a Postgres server when they carry a `url` or `sql`
 * client, otherwise PGlite in `dataDir` (in memory without one). Call `migrate()` before use.
 *
 * @example
 * ```ts
 * const store = createEventStore(databaseUrl ? { url: databaseUrl } : { dataDir: '.ratchet/db' });
 * await store.migrate();
 * ```
 */
export function createEventStore(options: EventStoreOptions = {}): EventStore {
  if (('url' in options && options.url !== undefined) || ('sql' in options && options.sql !== undefined)) {
    return new PostgresEventStore(options);
  }
  return new PgliteEventStore(options as PgliteEventStoreOptions);
}
