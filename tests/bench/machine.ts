import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { connect } from '@nats-io/transport-node';
import { withAdmin } from './bench-database.ts';

/** What the numbers were measured on. */
export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly postgres: string;
  /** Durability settings that decide what a commit costs. */
  readonly postgresSettings: Readonly<Record<string, string>>;
  readonly nats: string;
  /** 1-minute load average when the run began: other work on the machine skews the numbers. */
  readonly loadAverageAtStart: number;
}

export async function describeMachine(postgresUrl: string, natsUrl: string): Promise<Machine> {
  const [postgres, nats] = await Promise.all([
    withAdmin(postgresUrl, async (sql) => {
      const [row] = await sql<{ version: string }[]>`select version()`;
      const version = row?.version ?? 'unknown';
      const settings = await sql<{ name: string; setting: string }[]>`
        select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers', 'max_connections')`;
      return { version, settings: Object.fromEntries(settings.map((row) => [row.name, row.setting])) };
    }),
    natsVersion(natsUrl),
  ]);
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${process.platform} ${release()}`,
    node: process.version,
    postgres: postgres.version,
    postgresSettings: postgres.settings,
    nats,
    loadAverageAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

/** The version the server reports in its INFO on connect. */
async function natsVersion(url: string): Promise<string> {
  const nc = await connect({ servers: url, reconnect: false });
  try {
    const info = nc.info;
    return info ? `nats-server ${info.version}${info.jetstream ? ' (JetStream)' : ''}` : 'unknown';
  } finally {
    await nc.close();
  }
}
