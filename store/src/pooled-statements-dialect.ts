import {
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
} from 'kysely';
import type { Sql } from 'postgres';

/**
 * A kysely dialect for single statements, each sent to the postgres.js pool as it is, which
 * picks a connection for it. kysely-postgres-js reserves a connection for every query instead:
 * that costs a new postgres.js client object per query (30–60 µs and ~5 KB of garbage per
 * commit, measured), and a query sent on a reserved connection the server has just ended can
 * wait forever (measured: a store read hung after `pg_terminate_backend`, and with it the
 * engine), where the pool fails it and moves on. No transactions: the store runs those (and its
 * migrations) through the reserving dialect.
 */
export class PooledStatementsDialect implements Dialect {
  readonly #client: Sql;

  constructor(client: Sql) {
    this.#client = client;
  }

  createAdapter() {
    return new PostgresAdapter();
  }

  createDriver(): Driver {
    return new PooledStatementsDriver(this.#client);
  }

  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }

  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
}

/** Prepared, and on the extended protocol even without parameters (postgres.js's types omit `simple`). */
const EXTENDED = { prepare: true, simple: false } as { prepare: boolean };

class PooledStatementsDriver implements Driver {
  readonly #connection: DatabaseConnection;

  constructor(client: Sql) {
    this.#connection = {
      async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
        // The call kysely-postgres-js makes on its reserved connection (extended protocol even
        // without parameters), made on the pool.
        const rows = await client.unsafe(compiled.sql, [...compiled.parameters] as never[], EXTENDED);
        return { rows: rows as unknown as R[] };
      },
      streamQuery(): never {
        throw new Error('the pooled statements dialect does not stream');
      },
    };
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return this.#connection;
  }

  async beginTransaction(): Promise<void> {
    throw new Error('the pooled statements dialect runs single statements only; run transactions through the reserving dialect');
  }

  async commitTransaction(): Promise<void> {}

  async rollbackTransaction(): Promise<void> {}

  async releaseConnection(): Promise<void> {}

  // The client is the store's to end (after kysely's destroy of the reserving dialect).
  async destroy(): Promise<void> {}
}
