import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ratchet, testNats } from '../harness/index.ts';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;

describe('the ratchet CLI refuses a command line it cannot carry out as written', () => {
  // Refused before any engine is reached: no NATS_URL, and a data dir with no dev and no log.
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratchet-args-'));
    env = { NATS_URL: '', RATCHET_PREFIX: testNats().prefix };
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const usage = async (args: string[], message: string, extraEnv: Record<string, string> = {}) => {
    const result = await ratchet(args, { ...env, ...extraEnv });
    expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('usage: ratchet <command> [options]');
  };

  it('makes an unknown option a usage error naming it and the options the command takes', async () => {
    await usage(['status', 'X', '--jsn'], 'ratchet status does not take --jsn (its options: --json, --data-dir)');
    await usage(['history', 'X', '-x'], 'ratchet history does not take -x');
    await usage(['status', 'X', '--input'], "Option '--input <value>' argument missing");
  });

  it('refuses options of other commands, repeated options and arguments too many', async () => {
    await usage(['status', 'J', '--at', '3', '--wait'], 'ratchet status does not take --at (its options: --json, --data-dir)');
    await usage(['replay', 'J', '--workflows', 'x.ts', '--at', '3'], 'ratchet replay does not take --at');
    await usage(['engine', '--workflows', 'x.ts'], 'ratchet engine does not take --workflows (its options: --http-port, --http-host)');
    await usage(['status', 'a', 'b'], 'ratchet status takes <jobId>; unexpected: b');
    await usage(['dev', 'extra'], 'ratchet dev takes no arguments; unexpected: extra');
    await usage(['status', 'J', '--json', '--json'], '--json is given more than once');
    await usage(['breaker', 'list', 'payments'], 'ratchet breaker list takes no name; unexpected: payments');
    await usage(['breaker', 'reset', 'payments', '--for', '1m'], '--for goes with ratchet breaker trip, not reset');
    await usage(['breaker', 'trip', 'payments', '--for', 'soon'], '--for "soon" is not a duration');
    await usage(['replay', 'J', '--file', 'job.json', '--workflows', 'x.ts'], 'ratchet replay takes a job id or --file, not both');
  });

  it('refuses --type of an event type that does not exist, naming the ones that do', async () => {
    await usage(['history', 'J', '--type', 'Bogus'], '--type Bogus is not an event type (the types: JobStarted,');
    const result = await ratchet(['history', 'J', '--type', 'Bogus'], env);
    expect(result.stderr).toContain('StepCompleted');
  });

  it('takes numbers as plain digits in range only, and an empty value as a missing one', async () => {
    await usage(['dev', '--http-port', ''], '--http-port needs a value, got an empty one');
    await usage(['dev', '--http-port', '65536'], '--http-port must be a port from 0 to 65535, got "65536"');
    await usage(['worker', '--workflows', 'x.ts', '--concurrency', ''], '--concurrency needs a value, got an empty one');
    await usage(['worker', '--workflows', 'x.ts', '--concurrency', '0x10'], '--concurrency must be an integer from 1 to 10000, got "0x10"');
    await usage(['worker', '--workflows', 'x.ts', '--ack-wait', ''], '--ack-wait needs a value, got an empty one');
    await usage(['worker', '--workflows', 'x.ts', '--ack-wait', '1e3'], '--ack-wait must be an integer from 1 to 2147483647, got "1e3"');
    await usage(['start', 'greet', '--job-id', ''], '--job-id needs a value, got an empty one');
    await usage(['state', 'J', '--at', ' 5 '], '--at must be a positive integer, got " 5 "');
    await usage(['state', 'J', '--at', '2.0'], '--at must be a positive integer, got "2.0"');
    await usage(['verify', '--workflows', 'x.ts', '--sample', '-1'], "Option '--sample' argument is ambiguous");
    await usage(['verify', '--workflows', 'x.ts', '--sample=-1'], '--sample must be a positive integer, got "-1"');
    await usage(['replay', 'J', '--workflows', 'x.ts', '--inspect-port', '9229x'], '--inspect-port must be a port from 0 to 65535');
  });

  it('refuses verify --workflow of a workflow the module does not define, naming those it does', async () => {
    await usage(
      ['verify', '--workflows', join(fixtures, 'cli-workflows.ts'), '--workflow', 'gret', '--data-dir', dir],
      `--workflow gret: ${join(fixtures, 'cli-workflows.ts')} has no such workflow (it has: flaky, greet, relay, tally, waiter)`,
      { NATS_URL: testNats().url },
    );
  });

  it('mentions --inspect-port in the help', async () => {
    const help = await ratchet(['help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('replay <jobId> --workflows <module> [--until <seq>] [--inspect] [--inspect-port <p>]');
  });

  it('says what it tried when no engine answers and NATS_URL is not set', async () => {
    const result = await ratchet(['status', 'X', '--data-dir', dir], env);
    expect(result.code).toBe(1);
    // The default NATS has no engine with this prefix (or, on a machine without one there, does not answer).
    expect(result.stderr).toMatch(
      new RegExp(
        `^ratchet: no engine answered: no \`ratchet dev\` is running in ${dir} and NATS_URL is not set \\((nats://127\\.0\\.0\\.1:4222 has no engine with prefix ${env.RATCHET_PREFIX}|connecting to NATS at nats://127\\.0\\.0\\.1:4222 failed)`,
      ),
    );
    expect(result.stderr).not.toContain('TransportError');
  });
});
