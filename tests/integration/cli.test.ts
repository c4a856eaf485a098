import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@ratchet/sdk';
import { NatsTransport } from '@ratchet/sdk/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waiter as waiterV1 } from '../fixtures/cli-workflows.ts';
import { deleteStreams, type TestDatabase, testDatabase, testNats, writeLegacyBreakerEvents } from '../harness/index.ts';

const root = new URL('../..', import.meta.url).pathname;
const ratchetBin = join(root, 'engine/bin/ratchet.mjs');
const run = promisify(execFile);

/** Runs `ratchet <args>`; resolves with its exit code and output instead of throwing. */
async function ratchet(args: string[], env: Record<string, string>, cwd = root) {
  try {
    const { stdout, stderr } = await run(process.execPath, [ratchetBin, ...args], {
      env: { ...process.env, ...env },
      cwd,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the ratchet CLI against real Postgres and NATS', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  const processes: ChildProcess[] = [];
  beforeAll(async () => {
    database = await testDatabase();
    const nats = testNats();
    env = { DATABASE_URL: database.url, NATS_URL: nats.url, RATCHET_PREFIX: nats.prefix, RATCHET_LOG_LEVEL: 'warn' };
    const spawnRatchet = (args: string[]) =>
      spawn(process.execPath, [ratchetBin, ...args], { env: { ...process.env, ...env }, stdio: 'inherit' });
    processes.push(spawnRatchet(['engine']), spawnRatchet(['worker', '--workflows', join(root, 'tests/fixtures/cli-workflows.ts')]));
  });
  afterAll(async () => {
    for (const child of processes) child.kill('SIGTERM');
    await Promise.all(
      processes.map((child) => new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)))),
    );
    await deleteStreams(env.NATS_URL as string, env.RATCHET_PREFIX as string);
    await database.drop();
  });

  it('starts a job and waits for it, then shows its status and history', async () => {
    let started = await ratchet(['start', 'greet', '--input', '{"name":"Ada"}', '--job-id', 'cli-greet-1', '--wait'], env);
    // The engine process may still be starting: retry until it answers.
    for (let i = 0; i < 40 && started.code !== 0 && /no responders/.test(started.stderr); i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      started = await ratchet(['start', 'greet', '--input', '{"name":"Ada"}', '--job-id', 'cli-greet-1', '--wait'], env);
    }
    expect(started).toMatchObject({ code: 0 });
    expect(started.stdout).toContain('cli-greet-1');
    expect(started.stdout).toContain('"HELLO, ADA"');

    const status = await ratchet(['status', 'cli-greet-1', '--json'], env);
    expect(JSON.parse(status.stdout)).toMatchObject({ jobId: 'cli-greet-1', status: 'completed', output: 'HELLO, ADA', workflow: 'greet' });
    expect((await ratchet(['status', 'cli-greet-1'], env)).stdout).toMatch(/status\s+completed/);

    const history = JSON.parse((await ratchet(['history', 'cli-greet-1', '--json'], env)).stdout) as {
      seq: number;
      type: string;
      step?: string;
      attempt?: number;
      time: string;
    }[];
    expect(history.map((row) => [row.seq, row.type, row.step, row.attempt])).toEqual([
      [1, 'JobStarted', undefined, undefined],
      [2, 'StepStarted', 'compose', 1],
      [3, 'StepCompleted', 'compose', 1],
      [4, 'StepStarted', 'shout', 1],
      [5, 'StepCompleted', 'shout', 1],
      [6, 'JobCompleted', undefined, undefined],
    ]);
    expect(Number.isNaN(Date.parse(history[0]?.time ?? ''))).toBe(false);
    const text = (await ratchet(['history', 'cli-greet-1'], env)).stdout;
    expect(text.split('\n')[0]).toMatch(/^job cli-greet-1 {2}workflow greet {2}started \S+Z {2}6 events$/);
    expect(text).toMatch(/^completed after \d+ ms$/m);
    expect(text).toMatch(/^\s+seq\s+since start\s+since prev\s+event$/m);
    expect(text).toMatch(
      /^\s+5\s+\d+ ms\s+\d+ ms\s+StepCompleted\s+shout #1 {2}took \d+ ms {2}worker \S+ {2}epoch 1 {2}output "HELLO, ADA"$/m,
    );

    // Time travel: the state after seq 3 (the first step completed), filters, export.
    const atThree = JSON.parse((await ratchet(['state', 'cli-greet-1', '--at', '3'], env)).stdout);
    expect(atThree).toMatchObject({
      status: 'running',
      lastSeq: 3,
      journal: [{ kind: 'step', name: 'compose', status: 'completed', output: 'Hello, Ada' }],
    });
    expect((await ratchet(['state', 'cli-greet-1', '--at', '99'], env)).stderr).toContain('--at must be a seq from 1 to 6, got 99');
    const shout = JSON.parse((await ratchet(['history', 'cli-greet-1', '--json', '--step', 'shout'], env)).stdout) as { type: string }[];
    expect(shout.map((row) => row.type)).toEqual(['StepStarted', 'StepCompleted']);
    const exported = JSON.parse((await ratchet(['export', 'cli-greet-1'], env)).stdout);
    expect(exported).toMatchObject({ format: 'ratchet-history', version: 2, jobId: 'cli-greet-1' });
    expect(exported.events).toHaveLength(6);

    const replayed = await ratchet(['replay', 'cli-greet-1', '--workflows', join(root, 'tests/fixtures/cli-workflows.ts')], env);
    expect(replayed).toMatchObject({ code: 0 });
    expect(replayed.stdout).toContain('deterministic: the code made all 2 recorded calls of job cli-greet-1');

    // Import: the exported file replays where no engine runs (an incident's log on a laptop).
    const file = join(await mkdtemp(join(tmpdir(), 'ratchet-export-')), 'job.json');
    await writeFile(file, JSON.stringify(exported));
    const fromFile = await ratchet(['replay', '--file', file, '--workflows', join(root, 'tests/fixtures/cli-workflows.ts')], {});
    expect(fromFile).toMatchObject({ code: 0 });
    expect(fromFile.stdout).toContain('deterministic: the code made all 2 recorded calls of job cli-greet-1');
    await writeFile(file, JSON.stringify({ ...exported, format: 'something-else' }));
    const notExported = await ratchet(['replay', '--file', file, '--workflows', join(root, 'tests/fixtures/cli-workflows.ts')], {});
    expect(notExported.code).not.toBe(0);
    expect(notExported.stderr).toContain('not an exported history (ratchet export): format is "something-else"');

    const again = await ratchet(['start', 'greet', '--input', '{"name":"Bob"}', '--job-id', 'cli-greet-1'], env);
    expect(again.stdout.trim()).toBe('cli-greet-1 (existing job)');
  });

  it('stops quietly when the reader of its output goes away (ratchet history <jobId> | head)', async () => {
    for (const args of [['history', 'cli-greet-1'], ['export', 'cli-greet-1'], ['state', 'cli-greet-1'], ['help']]) {
      const child = spawn(process.execPath, [ratchetBin, ...args], { env: { ...process.env, ...env }, cwd: root });
      processes.push(child);
      // The pipe's reader is gone before anything is written: every write fails with EPIPE.
      child.stdout?.destroy();
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect({ args, code, stderr }).toEqual({ args, code: 0, stderr: '' });
    }
  });

  it('forks a job from a step, with a replaced result, and refuses what cannot be forked', async () => {
    const forked = await ratchet(
      ['fork', 'cli-greet-1', '--from', 'shout', '--set-output', 'compose="Hi, Zed"', '--job-id', 'cli-greet-fork', '--wait'],
      env,
    );
    expect(forked).toMatchObject({ code: 0 });
    expect(forked.stdout).toContain('cli-greet-fork  forked from job cli-greet-1 at its seq 3: 2 events reused, step "shout" runs again');
    expect(forked.stdout).toContain('"HI, ZED"');
    const history = (await ratchet(['history', 'cli-greet-fork'], env)).stdout;
    expect(history).toContain(
      'forked from job cli-greet-1 at its seq 3: its first 2 journal events are copied, step "shout" runs again; results replaced: compose',
    );
    expect(history).toMatch(/-- copied from the source job, as recorded there --\n.*StepStarted\s+compose #1/);
    expect(history).toMatch(/StepCompleted\s+compose #1 .* output "Hi, Zed"\n\s+-- the fork runs from here --\n.*StepStarted\s+shout #1/);

    const badStep = await ratchet(['fork', 'cli-greet-1', '--from', 'nope'], env);
    expect(badStep.code).toBe(1);
    expect(badStep.stderr).toContain('UnknownStepError: job cli-greet-1 has no step "nope" (its steps: compose, shout)');
    const badOutput = await ratchet(['fork', 'cli-greet-1', '--from', 'shout', '--set-output', 'compose=Hi'], env);
    expect(badOutput.code).toBe(1);
    expect(badOutput.stderr).toContain('--set-output compose: the value is not valid JSON');
    const unknownJob = await ratchet(['fork', 'no-such-job', '--from', 'shout'], env);
    expect(unknownJob.stderr).toContain('JobNotFoundError: no job no-such-job');
    const noFrom = await ratchet(['fork', 'cli-greet-1'], env);
    expect(noFrom.code).toBe(2);
    expect(noFrom.stderr).toContain('ratchet fork needs --from <step>');
  });

  it('replays up to a seq, and refuses a seq the job does not have', async () => {
    const workflows = join(root, 'tests/fixtures/cli-workflows.ts');
    const upTo = await ratchet(['replay', 'cli-greet-1', '--workflows', workflows, '--until', '3'], env);
    expect(upTo).toMatchObject({ code: 0 });
    expect(upTo.stdout).toContain('reached seq 3 of job cli-greet-1 (StepCompleted): job running, 1 recorded call, 1 of 1 step completed');
    expect(upTo.stdout).toContain('deterministic: the code made all 1 recorded calls of job cli-greet-1 up to seq 3');
    const beyond = await ratchet(['replay', 'cli-greet-1', '--workflows', workflows, '--until', '7'], env);
    expect(beyond.code).toBe(1);
    expect(beyond.stderr).toContain('--until must be a seq from 1 to 6 (the last event of job cli-greet-1), got 7');
    const zero = await ratchet(['replay', 'cli-greet-1', '--workflows', workflows, '--until', '0'], env);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--until must be a positive integer, got "0"');
  });

  it('stops at a breakpoint in workflow code during a replay under --inspect', async () => {
    const workflows = join(root, 'tests/fixtures/cli-workflows.ts');
    const source = await readFile(workflows, 'utf8');
    const line = source.split('\n').findIndex((text) => text.includes('replay breakpoint'));
    expect(line).toBeGreaterThan(0);
    const child = spawn(process.execPath, [ratchetBin, 'replay', 'cli-greet-1', '--workflows', workflows, '--inspect'], {
      env: { ...process.env, ...env },
      cwd: root,
    });
    processes.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no inspector URL within 20 s:\n${stderr}`)), 20_000);
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /waiting for a debugger at (ws:\/\/\S+)/.exec(stderr);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
    });
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.addEventListener('open', resolve, { once: true });
      socket.addEventListener('error', reject, { once: true });
    });
    let nextId = 1;
    const pending = new Map<number, (result: unknown) => void>();
    const paused: { url: string; lineNumber: number }[] = [];
    let onPause: (() => void) | undefined;
    const scripts = new Map<string, string>();
    socket.addEventListener('message', (message) => {
      const data = JSON.parse(String(message.data)) as {
        id?: number;
        method?: string;
        result?: unknown;
        params?: { scriptId?: string; url?: string; callFrames?: { location: { scriptId: string; lineNumber: number } }[] };
      };
      if (data.id !== undefined) pending.get(data.id)?.(data.result);
      if (data.method === 'Debugger.scriptParsed' && data.params?.scriptId) scripts.set(data.params.scriptId, data.params.url ?? '');
      if (data.method === 'Debugger.paused') {
        const top = data.params?.callFrames?.[0]?.location;
        paused.push({ url: scripts.get(top?.scriptId ?? '') ?? '', lineNumber: top?.lineNumber ?? -1 });
        onPause?.();
      }
    });
    const send = (method: string, params: object = {}) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        socket.send(JSON.stringify({ id, method, params }));
      });
    await send('Runtime.enable');
    await send('Debugger.enable');
    await send('Debugger.setBreakpointByUrl', { urlRegex: 'cli-workflows\\.ts$', lineNumber: line });
    const stopped = new Promise<void>((resolve) => {
      onPause = resolve;
    });
    await send('Runtime.runIfWaitingForDebugger');
    await stopped;
    expect(paused[0]?.url).toMatch(/tests\/fixtures\/cli-workflows\.ts$/);
    expect(paused[0]?.lineNumber).toBe(line);
    onPause = () => void send('Debugger.resume');
    await send('Debugger.resume');
    expect(await exited).toBe(0);
    socket.close();
    expect(stdout).toContain('deterministic: the code made all 2 recorded calls of job cli-greet-1');
  });

  it('shows each attempt with its worker, epoch, duration, error stack and retry', async () => {
    const started = await ratchet(['start', 'flaky', '--job-id', 'cli-flaky-1', '--wait'], env);
    expect(started).toMatchObject({ code: 0 });
    const events = JSON.parse((await ratchet(['history', 'cli-flaky-1', '--json'], env)).stdout) as {
      type: string;
      event: { worker?: string; failedAt?: number; at?: number };
    }[];
    const worker = events.find((row) => row.type === 'StepStarted')?.event.worker as string;
    expect(worker).toBeTruthy();
    const failedAt = events.find((row) => row.type === 'StepFailed')?.event.failedAt as number;
    const retryAt = events.find((row) => row.type === 'StepRetryScheduled')?.event.at as number;
    const text = (await ratchet(['history', 'cli-flaky-1'], env)).stdout;
    const escaped = worker.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(text).toMatch(new RegExp(`StepStarted\\s+fetch #1 {2}worker ${escaped} {2}epoch 1`));
    expect(text).toMatch(new RegExp(`StepFailed\\s+fetch #1 {2}took \\d+ ms {2}worker ${escaped} {2}epoch 1 {2}will retry`));
    expect(text).toMatch(/^\s+error Error: the service is warming up$/m);
    // The stack points into the workflow's own file.
    expect(text).toMatch(/^\s+at .*tests\/fixtures\/cli-workflows\.ts:\d+:\d+/m);
    expect(text).toContain(`fetch #2  at ${new Date(retryAt).toISOString()}, ${retryAt - failedAt} ms after the failure`);
    expect(text).toMatch(/StepCompleted\s+fetch #2 {2}took \d+ ms {2}worker \S+ {2}epoch \d+ {2}output "fetched"/);
    // Times since the job started and since the previous event, on every event line.
    const lines = text.split('\n').filter((l) => /^\s+\d+\s+-?[\d.]+ (ms|s)\s+-?[\d.]+ (ms|s)\s+[A-Z]/.test(l));
    expect(lines.length).toBe(events.length);
  });

  it('prints values JSON has no word for (a bigint, bytes) in every command that shows them', async () => {
    const started = await ratchet(['start', 'tally', '--job-id', 'cli-tally-1', '--wait'], env);
    expect(started, started.stderr).toMatchObject({ code: 0 });
    const shown = { total: '12', digest: { base64: 'AQL/' } };
    expect(JSON.parse(started.stdout.slice(started.stdout.indexOf('{')))).toEqual(shown);
    const status = await ratchet(['status', 'cli-tally-1'], env);
    expect(status, status.stderr).toMatchObject({ code: 0 });
    expect(status.stdout).toContain('output    {"total":"12","digest":{"base64":"AQL/"}}');
    expect(JSON.parse((await ratchet(['status', 'cli-tally-1', '--json'], env)).stdout).output).toEqual(shown);
    const history = await ratchet(['history', 'cli-tally-1'], env);
    expect(history, history.stderr).toMatchObject({ code: 0 });
    expect(history.stdout).toMatch(/StepCompleted\s+count #1 .* output \{"total":"12","digest":\{"base64":"AQL\/"\}\}$/m);
    const rows = JSON.parse((await ratchet(['history', 'cli-tally-1', '--json'], env)).stdout) as { event: { output?: unknown } }[];
    expect(rows.at(-1)?.event.output).toEqual(shown);
    expect(JSON.parse((await ratchet(['state', 'cli-tally-1', '--at', '3'], env)).stdout).journal[0].output).toEqual(shown);
    const forked = await ratchet(['fork', 'cli-tally-1', '--from', 'count', '--wait'], env);
    expect(forked, forked.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(forked.stdout.slice(forked.stdout.indexOf('{')))).toEqual(shown);
  });

  it('waits for a job that continues as new until the last of its chain finishes, and shows where it went', async () => {
    const started = await ratchet(['start', 'relay', '--input', '2', '--job-id', 'cli-relay-1', '--wait'], env);
    expect(started, started.stderr).toMatchObject({ code: 0 });
    expect(started.stdout).toBe('cli-relay-1\n"arrived"\n');
    const next = JSON.parse((await ratchet(['status', 'cli-relay-1', '--json'], env)).stdout).continuedAs as string;
    expect(next).toBeTruthy();
    expect((await ratchet(['status', 'cli-relay-1'], env)).stdout).toMatch(
      new RegExp(`^status {4}continued$[\\s\\S]*^next job  ${next}  \\(continued as a new job\\)$`, 'm'),
    );
  });

  it('verifies running jobs against new code before a deploy', async () => {
    const parked = await ratchet(['start', 'waiter', '--input', '{}', '--job-id', 'cli-waiter-1'], env);
    expect(parked.code).toBe(0);
    // Wait until it parks on its sleep.
    for (let i = 0; i < 40 && !(await ratchet(['history', 'cli-waiter-1'], env)).stdout.includes('TimerStarted'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const same = await ratchet(['verify', '--workflows', join(root, 'tests/fixtures/cli-workflows.ts')], env);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/1 running job replayed in .*: all deterministic/);
    const changed = await ratchet(['verify', '--workflows', join(root, 'tests/fixtures/cli-workflows-changed.ts')], env);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toContain(
      'would break: cli-waiter-1: at position 0 the log has step("prepare") but the code calls step("announce")',
    );
    expect(changed.stdout).toContain('1 would break');

    // --sample n replays n of the running jobs, chosen at random (the first n would be the same
    // jobs every time).
    expect((await ratchet(['start', 'waiter', '--input', '{}', '--job-id', 'cli-waiter-2'], env)).code).toBe(0);
    for (let i = 0; i < 40 && !(await ratchet(['history', 'cli-waiter-2'], env)).stdout.includes('TimerStarted'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const all = await ratchet(['verify', '--workflows', join(root, 'tests/fixtures/cli-workflows.ts')], env);
    expect(all.stdout).toMatch(/^2 running jobs replayed in .*: all deterministic/m);
    const sampled = await ratchet(['verify', '--workflows', join(root, 'tests/fixtures/cli-workflows.ts'), '--sample', '1'], env);
    expect(sampled.code).toBe(0);
    expect(sampled.stdout).toMatch(/^1 running job \(a random sample of 2\) replayed in .*: all deterministic/m);
    // Both jobs would break on the changed code: samples of one name either, and in 30 tries both
    // (the chance that one is never drawn is 2 in 2^30).
    const drawn = new Set<string>();
    for (let i = 0; i < 30 && drawn.size < 2; i++) {
      const one = await ratchet(['verify', '--workflows', join(root, 'tests/fixtures/cli-workflows-changed.ts'), '--sample', '1'], env);
      expect(one.code).toBe(1);
      const names = [...one.stdout.matchAll(/^would break: (cli-waiter-\d):/gm)].map((m) => m[1] as string);
      expect(names).toHaveLength(1);
      drawn.add(names[0] as string);
    }
    expect([...drawn].sort()).toEqual(['cli-waiter-1', 'cli-waiter-2']);
  });

  it('leaves running jobs of another version to their workers when verifying a new version', async () => {
    // Started through the sdk, the job records its workflow's version (1); by name, none.
    const transport = await NatsTransport.connect({ servers: env.NATS_URL as string });
    try {
      const client = new Client({ transport, prefix: env.RATCHET_PREFIX as string });
      await client.start(waiterV1, undefined, { jobId: 'cli-waiter-v1' });
    } finally {
      await transport.close();
    }
    for (let i = 0; i < 40 && !(await ratchet(['history', 'cli-waiter-v1'], env)).stdout.includes('TimerStarted'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const v2 = await ratchet(['verify', '--workflows', join(root, 'tests/fixtures/cli-workflows-v2.ts')], env);
    expect(v2.stdout).toContain(
      'not replayed: 1 running job of workflow "waiter" version 1 (the module has version 2); its workers leave them to workers of their version',
    );
    expect(v2.stdout).not.toContain('would break: cli-waiter-v1');
    // The jobs started by name have no version: version 2's workers would run them, and break them.
    expect(v2.stdout).toContain('would break: cli-waiter-1: at position 0 the log has step("prepare") but the code calls step("announce")');
    expect(v2.stdout).toMatch(/^2 running jobs replayed in .*: 2 would break$/m);
    expect(v2.code).toBe(1);
  });

  it('lets an operator trip, list and reset a breaker', async () => {
    const tripped = await ratchet(['breaker', 'trip', 'payments', '--for', '10m'], env);
    expect(tripped.code).toBe(0);
    expect(tripped.stdout).toMatch(/payments\s+open until/);
    expect((await ratchet(['breaker', 'list'], env)).stdout).toMatch(/payments\s+open/);
    expect((await ratchet(['breaker', 'reset', 'payments'], env)).stdout).toMatch(/payments\s+closed/);
    const unknown = await ratchet(['breaker', 'reset', 'nope'], env);
    expect(unknown.stderr).toContain('UnknownBreakerError: no breaker "nope"');
  });

  it('refuses to trip a breaker with a name no step could use or for longer than time goes, and lists a bad date in the log', async () => {
    const badName = await ratchet(['breaker', 'trip', 'not a name!'], env);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toContain(
      'InvalidMessageError: command ControlBreaker.name: breaker name "not a name!" must be 1-128 letters, digits, . _ or -',
    );
    const forever = await ratchet(['breaker', 'trip', 'payments', '--for', '100000000d'], env);
    expect(forever.code).toBe(1);
    expect(forever.stderr).toMatch(/InvalidMessageError: command ControlBreaker\.forMs must be at most \d+ .*got 8640000000000000/);
    // A trip an older engine let through: open until no date at all. The list still prints.
    await writeLegacyBreakerEvents(database.url, 'legacy-forever', [
      { type: 'BreakerOpened', until: 8.7e15, reason: 'tripped by an operator' },
    ]);
    // The list reads the store: what another engine wrote is in it at once.
    const listed = await ratchet(['breaker', 'list'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/legacy-forever\s+open until 8700000000000000 ms \(not a valid date\)/);
    expect(listed.stdout).not.toContain('not a name!');
  });

  it('reports bad input with a clear message and a failing exit code', async () => {
    const badJson = await ratchet(['start', 'greet', '--input', '{name'], env);
    expect(badJson.code).toBe(1);
    expect(badJson.stderr).toContain('--input is not valid JSON');
    const unknown = await ratchet(['start', 'no-such-workflow', '--input', '{}'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(
      'UnknownWorkflowError: no running worker has workflow "no-such-workflow" (known: flaky, greet, relay, tally, waiter)',
    );
    const missing = await ratchet(['status', 'no-such-job'], env);
    expect(missing.stderr).toContain('JobNotFoundError: no job no-such-job');
    const usage = await ratchet(['frobnicate'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('unknown command "frobnicate"');
    // RVTEST and rvtest would name one task stream: refused before anything connects.
    for (const args of [['engine'], ['worker', '--workflows', join(root, 'tests/fixtures/cli-workflows.ts')], ['status', 'x']]) {
      const prefix = await ratchet(args, { ...env, RATCHET_PREFIX: env.RATCHET_PREFIX?.toUpperCase() as string });
      expect(prefix.code).toBe(2);
      expect(prefix.stderr).toContain(
        `RATCHET_PREFIX "${env.RATCHET_PREFIX?.toUpperCase()}" must be 1-64 lowercase letters, digits or '-'`,
      );
    }
  });
});

describe('ratchet dev --main (the main job of npm start)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratchet-dev-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('runs the order job to completion, resuming it after an interruption mid-job', async () => {
    const args = ['dev', '--workflows', join(root, 'sdk/examples/orders.ts'), '--main', '--data-dir', dir];
    // First run: interrupted (SIGINT) as soon as the payment step has started.
    const first = spawn(process.execPath, [ratchetBin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no payment step within 30 s:\n${output}`)), 30_000);
      first.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (/StepStarted\s+charge-card/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    // The web UI and HTTP API answer at the address it printed, while the job runs.
    const ui = /web UI and HTTP API on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1];
    expect(ui, output).toBeDefined();
    const listed = (await (await fetch(`${ui}api/jobs`)).json()) as { jobs: { workflow: string }[] };
    expect(listed.jobs.map((job) => job.workflow)).toContain('process-order');
    expect(await (await fetch(`${ui}`)).text()).toContain('<title>Ratchet</title>');
    // The CLI's commands reach this running dev through POST /api/commands.
    const breakers = await ratchet(['breaker', 'list', '--data-dir', dir], {});
    expect(breakers, breakers.stderr).toMatchObject({ code: 0 });
    first.kill('SIGINT');
    await new Promise((resolve) => first.once('exit', resolve));
    const jobId = (await readFile(join(dir, 'current-order'), 'utf8')).trim();
    expect(output).toContain(`started order job ${jobId}`);

    // Second run: the same job resumes and completes.
    const second = await ratchet(args, {});
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`resuming order job ${jobId} from its log`);
    expect(second.stdout).toContain(`order job ${jobId} completed`);

    const history = JSON.parse((await ratchet(['history', jobId, '--json', '--data-dir', dir], {})).stdout) as {
      type: string;
      step?: string;
      attempt?: number;
      error?: string;
    }[];
    const charge = history.filter((row) => row.step === 'charge-card' && row.type === 'StepStarted');
    expect(charge.map((row) => row.attempt)).toEqual([1, 2, 3]);
    expect(history.filter((row) => row.step === 'reserve-stock' && row.type === 'StepStarted')).toHaveLength(1);
    expect(history.some((row) => row.type === 'TimerFired')).toBe(true);
    expect(history.some((row) => row.step === 'ship' && row.error?.startsWith('WorkerLostError'))).toBe(true);
    expect(history.at(-1)?.type).toBe('JobCompleted');
  }, 60_000);
});
