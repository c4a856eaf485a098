import { type BreakerEvent, encode } from '@ratchet/protocol';
import postgres from 'postgres';

/**
 * Appends transitions to a breaker's stream the way engines before the `breakers` table did (store
 * migration 0007): events only, no row. What an engine restarted on such a database, or beside an
 * older one, must still see.
 */
export async function writeLegacyBreakerEvents(
  databaseUrl: string,
  name: string,
  events: readonly BreakerEvent[],
  schema = 'public',
): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const table = sql(`${schema}.breaker_events`); // postgres.js quotes each part of a dotted name
    for (const event of events) {
      await sql`
        insert into ${table} (name, seq, data, recorded_at)
        select ${name}, coalesce((select max(seq) from ${table} where name = ${name}), 0) + 1, ${Buffer.from(encode(event))}, now()`;
    }
  } finally {
    await sql.end();
  }
}
