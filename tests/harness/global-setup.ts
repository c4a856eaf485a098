import type { TestProject } from 'vitest/node';
import { findServers } from './servers.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of a real Postgres server; tests create their own databases on it. */
    postgresUrl: string;
    /** URL of a real nats-server with JetStream. */
    natsUrl: string;
  }
}

/** Finds (or starts) real Postgres and NATS servers once for the whole run. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const servers = await findServers();
  project.provide('postgresUrl', servers.postgresUrl);
  project.provide('natsUrl', servers.natsUrl);
  return servers.stop;
}
