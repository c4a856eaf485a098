import { type Dialect, type Driver, type Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';

/**
 * A Postgres dialect whose adapter, query compiler and introspector come from the store's own
 * kysely, around the driver of a third-party dialect (kysely-postgres-js, kysely-pglite-dialect).
 * Those packages import whichever `kysely` npm hoisted next to them — today 0.27, a peer of
 * kysely-pglite-dialect — so only their drivers, which just run compiled SQL, are borrowed;
 * queries are built and compiled by one kysely version.
 */
export function postgresDialect(borrowed: { createDriver(): unknown }): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    // The older kysely's Driver type differs only in the parse tree a CompiledQuery carries
    // along, which drivers never read (they send its `sql` and `parameters`).
    createDriver: () => borrowed.createDriver() as Driver,
    createQueryCompiler: () => new PostgresQueryCompiler(),
    createIntrospector: (db: Kysely<unknown>) => new PostgresIntrospector(db),
  };
}
