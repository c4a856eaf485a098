import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import postgres from 'postgres';
import { inject } from 'vitest';

/** A database of this test file's own on the shared Postgres server; `drop()` removes it. */
export interface TestDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/** Creates a fresh, empty database for one test file. */
export async function testDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('postgresUrl');
  const name = `ratchet_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await sql.end();
      }
    },
  };
}

/** The NATS URL and a subject prefix no other test file uses. */
export function testNats(): { readonly url: string; readonly prefix: string } {
  return { url: inject('natsUrl'), prefix: `t${randomBytes(5).toString('hex')}` };
}

/** Deletes the JetStream streams a test file created under `prefix`, so runs leave nothing behind. */
export async function deleteStreams(natsUrl: string, prefix: string): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) {
      if (name.toLowerCase().startsWith(prefix.toLowerCase())) await jsm.streams.delete(name);
    }
  } finally {
    await nc.close();
  }
}
