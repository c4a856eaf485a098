import { Kysely } from 'kysely';
import { PostgresJSDialect } from 'kysely-postgres-js';
import postgres, { type Sql } from 'postgres';
import type { Database } from './database.ts';
import { KyselyEventStore } from './kysely-event-store.ts';
import { PooledStatementsDialect } from './pooled-statements-dialect.ts';
import { resolveSchema } from './resolve-schema.ts';

/** Where a {@link PostgresEventStore} keeps the log. Give `url` or `sql`. */
export interface PostgresEventStoreOptions {
  /** Connection URL (`postgres://user@host:5432/db`); the store opens and closes its own client. */
  readonly url?: string;
  /**
   * A postgres.js client to use instead of `url`; the store never ends it. It must keep the
   * defaults for `fetch_types` (array parameters need it) and `transform` (columns are read by name).
   */
  readonly sql?: Sql;
  /**
   * Postgres schema for every table, created by `migrate()` when missing.
   * @default 'public'
   */
  readonly schema?: string;
  /**
   * Most connections the store's own client opens (ignored with `sql`).
   * @default 10
   */
  readonly max?: number;
}

/**
 * The log on a Postgres server, through kysely and postgres.js.
 *
 * @example
 * ```ts
 * const store = new PostgresEventStore({ url: 'postgres://postgres@127.0.0.1:5432/ratchet' });
 * await store.migrate();
 * const events = await store.read(jobId);
 * await store.close();
 * ```
 */
/** How long ending the client may take once the store's own operations are over, in seconds. */
const END_TIMEOUT_S = 2;

export class PostgresEventStore extends KyselyEventStore {
  constructor(options: PostgresEventStoreOptions) {
    const schema = resolveSchema(options.schema);
    let client = options.sql;
    let owned = false;
    if (client === undefined) {
      if (options.url === undefined) throw new TypeError('PostgresEventStore needs a `url` or a postgres.js `sql` client');
      // IF NOT EXISTS in migrations raises notices that would otherwise land on the console.
      client = postgres(options.url, {
        max: options.max ?? 10,
        onnotice: () => {},
        // Every statement here has a fixed text and is prepared once; with array parameters the
        // default plan cache would plan each execution anew (0.3 ms per append, measured), though
        // the best plan never depends on the values.
        connection: { plan_cache_mode: 'force_generic_plan' },
      });
      owned = true;
    }
    const db = new Kysely<Database>({ dialect: new PostgresJSDialect({ postgres: client }) });
    const ours = client;
    // The client is only ours to end when we made it. The store's close() has let its queries
    // finish first (see OperationGate); the timeout bounds the end should one still hold a
    // connection, which kysely's destroy() would wait for without end.
    super({
      db,
      schema,
      release: async () => (owned ? ours.end({ timeout: END_TIMEOUT_S }) : undefined),
      statements: new Kysely<Database>({ dialect: new PooledStatementsDialect(client) }),
    });
  }
}
