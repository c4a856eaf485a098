import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import type { Cleanup } from './cleanup.ts';

/** A database of one workload's own on the Postgres server; dropped by `drop()` or the cleanup. */
export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** Creates a fresh, empty database (like the tests' `testDatabase`, without vitest's `inject`). */
export async function createBenchDatabase(adminUrl: string, cleanup: Cleanup): Promise<BenchDatabase> {
  const name = `ratchet_bench_${randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, async (sql) => {
    await sql.unsafe(`CREATE DATABASE ${name}`);
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const drop = cleanup.add(`drop database ${name}`, () =>
    withAdmin(adminUrl, async (sql) => {
      await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }),
  );
  return { name, url: url.toString(), drop };
}

/** Runs `use` on a one-connection client of `url`, ending it afterwards. */
export async function withAdmin<T>(url: string, use: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await use(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
