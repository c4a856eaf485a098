import { PGlite } from '@electric-sql/pglite';
import { Kysely } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import type { Database } from './database.ts';
import { KyselyEventStore } from './kysely-event-store.ts';
import { resolveSchema } from './resolve-schema.ts';

/** Where a {@link PgliteEventStore} keeps the log. */
export interface PgliteEventStoreOptions {
  /**
   * Directory holding the database files, created when missing and reopened on the next start.
   * @default undefined — in memory, gone on close
   */
  readonly dataDir?: string;
  /**
   * Schema for every table, created by `migrate()` when missing; lets several logs share one
   * directory (the contract tests open one per test).
   * @default 'public'
   */
  readonly schema?: string;
  /**
   * A data directory dumped by {@link PgliteEventStore.dump} to start from instead of an empty
   * one: a copy of a migrated log opens in a third of the time PGlite takes to create a database
   * (the test kit starts every environment from one). Ignored when `dataDir` holds a database.
   * @default undefined — a new, empty database
   */
  readonly image?: Blob;
}

/**
 * The log in PGlite, Postgres compiled to WebAssembly and run in this process: the embedded
 * default of `ratchet dev`. Same SQL, same contract as {@link PostgresEventStore}; PGlite has a
 * single connection, which kysely-pglite-dialect hands to one query at a time.
 *
 * @example
 * ```ts
 * const store = new PgliteEventStore({ dataDir: '.ratchet/db' });
 * await store.migrate();
 * await store.append([{ jobId, expectedSeq: 0, events, recordedAt: Date.now(), job, timers: { added: [], removed: [] } }]);
 * await store.close();
 * ```
 */
export class PgliteEventStore extends KyselyEventStore {
  readonly #pglite: PGlite;

  constructor(options: PgliteEventStoreOptions = {}) {
    const schema = resolveSchema(options.schema);
    const pglite = new PGlite({
      ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
      ...(options.image === undefined ? {} : { loadDataDir: options.image }),
    });
    const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
    const release = async () => {
      // Destroying kysely closes PGlite (which writes its files out), but only once kysely has
      // used it; a store closed unused still has PGlite starting up.
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    };
    super({ db, schema, release });
    this.#pglite = pglite;
  }

  /**
   * The whole database as a tarball, for `image` of another store. Take it while nothing writes
   * (after `migrate()`, say): PGlite runs one statement at a time, so it is a consistent copy.
   */
  async dump(): Promise<Blob> {
    return this.#pglite.dumpDataDir('none');
  }
}
