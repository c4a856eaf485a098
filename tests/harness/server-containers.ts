import { existsSync } from 'node:fs';
import { findExecutable } from './find-executable.ts';
import { runCommand } from './run-command.ts';
import type { RunningServer } from './running-server.ts';
import { messageOf, probeNatsJetStream, probePostgres } from './server-probes.ts';

/**
 * Undefined when a Docker engine answers (DOCKER_HOST or /var/run/docker.sock, and `docker info`
 * succeeds), else the reason it does not.
 */
export async function dockerUnreachable(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (!env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return 'DOCKER_HOST is not set and there is no /var/run/docker.sock';
  const docker = findExecutable('docker', env);
  // Without the CLI, testcontainers still talks to the engine's API; its own error will say why if not.
  if (!docker) return undefined;
  try {
    await runCommand(docker, ['info', '--format', '{{.ServerVersion}}'], { cwd: process.cwd(), timeoutMs: 15_000, env });
    return undefined;
  } catch (error) {
    return `\`docker info\` failed: ${messageOf(error)}`;
  }
}

/** A `postgres:16` container (trust authentication, fsync on as the image has it). */
export async function startPostgresContainer(): Promise<RunningServer> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('postgres:16')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
    .withCommand(['postgres', '-c', 'fsync=on', '-c', 'max_connections=200'])
    .withExposedPorts(5432)
    // The image's entrypoint starts a temporary server for its init scripts first, hence twice.
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .withStartupTimeout(120_000)
    .start();
  const url = `postgres://postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
  const ready = await probePostgres(url, 10_000);
  if (!ready.ok) {
    await container.stop();
    throw new Error(`postgres:16 container started but ${ready.reason}`);
  }
  return {
    url,
    source: `Docker container postgres:16 (${container.getId().slice(0, 12)})`,
    stop: async () => void (await container.stop()),
  };
}

/** A `nats:2` container started with `-js`. */
export async function startNatsContainer(): Promise<RunningServer> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('nats:2')
    .withCommand(['-js'])
    .withExposedPorts(4222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .withStartupTimeout(120_000)
    .start();
  const url = `nats://${container.getHost()}:${container.getMappedPort(4222)}`;
  const ready = await probeNatsJetStream(url, 10_000);
  if (!ready.ok) {
    await container.stop();
    throw new Error(`nats:2 container started but ${ready.reason}`);
  }
  return {
    url,
    source: `Docker container nats:2 -js (${container.getId().slice(0, 12)})`,
    stop: async () => void (await container.stop()),
  };
}
