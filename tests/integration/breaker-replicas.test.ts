import { Engine } from '@ratchet/engine';
import { type BreakerAdmission, type BreakerSummary, type JobEvent, resolveRetryPolicy } from '@ratchet/protocol';
import { defineBreaker, defineWorkflow } from '@ratchet/sdk';
import { PostgresEventStore } from '@ratchet/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietLogger, type Stack, startStack, writeLegacyBreakerEvents } from '../harness/index.ts';

// Two engines on one database and one subject prefix: a worker's AcquireBreaker and its appends
// land on either. The breaker must be one breaker, not one per engine.

const PROBES = 3;
const fleet = defineBreaker('fleet', { failureThreshold: 1, cooldown: '100ms', halfOpenProbes: PROBES });
const ledger = defineBreaker('ledger', { failureThreshold: 3, cooldown: '1h' });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const gate = defineBreaker('gate', { failureThreshold: 2, cooldown: '300ms', halfOpenProbes: 2, successesToClose: 4 });
/** The dependency behind `gate`: down until the test brings it up. */
const dependency = { down: true };
const pass = defineWorkflow('pass-gate', async (ctx) =>
  ctx.step(
    'call',
    async () => {
      await sleep(150);
      if (dependency.down) throw new Error('dependency down');
      return 'passed';
    },
    { breaker: gate, retry: { maximumAttempts: 20, initialInterval: '50ms', backoffCoefficient: 1 } },
  ),
);

describe('a breaker shared by two engines on one Postgres and NATS', () => {
  let stack: Stack;
  let secondStore: PostgresEventStore;
  let second: Engine;
  /** Both engines, the first as it is now (a restart replaces it). */
  const engines = (): [Engine, Engine] => [stack.engine, second];
  const acquire = (engine: Engine, policy = fleet.policy, name = 'fleet') =>
    engine.execute({ type: 'AcquireBreaker', name, policy }) as Promise<BreakerAdmission>;
  const list = async (engine: Engine, name: string) =>
    ((await engine.execute({ type: 'ControlBreaker', op: 'list' })) as BreakerSummary[]).find((b) => b.name === name);
  const stream = async (name: string) => (await stack.store.readBreakerEvents(name)).map((e) => e.event);

  beforeAll(async () => {
    stack = await startStack('postgres+nats', { probeStartLeaseMs: 400 });
    secondStore = new PostgresEventStore({ url: stack.env.DATABASE_URL as string });
    second = new Engine({
      store: secondStore,
      transport: stack.transport,
      prefix: stack.prefix,
      logger: quietLogger(),
      probeStartLeaseMs: 400,
    });
    await second.start();
  });
  afterAll(async () => {
    await second.stop();
    await secondStore.close();
    await stack.close();
  });

  it('admit at most halfOpenProbes probes in all while half-open, however the requests are spread', async () => {
    for (let round = 0; round < 4; round++) {
      await stack.engine.execute({ type: 'ControlBreaker', op: 'trip', name: 'fleet', forMs: 100 });
      // Past the cooldown, and past the second that engines once took to see each other's transitions.
      await sleep(round === 0 ? 1200 : 150);
      const asked = Date.now();
      // One ask through each engine in turn, then many through both at once.
      const admissions = [await acquire(stack.engine), await acquire(second)];
      admissions.push(...(await Promise.all(Array.from({ length: 40 }, (_, i) => acquire(engines()[i % 2] as Engine)))));
      const admitted = admissions.filter((a) => a.admitted);
      expect(admitted, `round ${round}`).toHaveLength(PROBES);
      expect(admitted.every((a) => a.probe)).toBe(true);
      // The others ask again later, when a probe may have ended.
      expect(admissions.filter((a) => !a.admitted).every((a) => (a.retryAt ?? 0) >= asked + 50)).toBe(true);
      for (const engine of engines()) {
        expect(await list(engine, 'fleet')).toMatchObject({ status: 'half-open', probesInFlight: PROBES });
      }
      // One transition to half-open, recorded once: not one per engine.
      expect((await stream('fleet')).slice(-2).map((e) => e.type)).toEqual(['BreakerOpened', 'BreakerHalfOpened']);
    }
    // The probes never started (their workers died before): their slots come back once, for both engines.
    await sleep(450);
    const again = await Promise.all(Array.from({ length: 40 }, (_, i) => acquire(engines()[i % 2] as Engine)));
    expect(again.filter((a) => a.admitted)).toHaveLength(PROBES);
    const opened = (await stream('fleet')).filter((e) => e.type === 'BreakerOpened');
    expect(opened).toHaveLength(4);
  });

  it('open after exactly failureThreshold consecutive failures reported through either engine, counts kept across a restart', async () => {
    const policy = resolveRetryPolicy({ maximumAttempts: 1 });
    /** One guarded call that fails: admitted by `admitting`, started through `starting`, its failure appended through `failing`. */
    const failOnce = async (admitting: Engine, starting: Engine, failing: Engine) => {
      expect(await acquire(admitting, ledger.policy, 'ledger')).toMatchObject({ admitted: true, probe: false });
      const { jobId } = (await admitting.execute({ type: 'StartJob', workflow: 'no-worker-runs-it', input: {} })) as { jobId: string };
      const started: JobEvent = {
        type: 'StepStarted',
        stepId: 0,
        name: 'post',
        attempt: 1,
        startedAt: Date.now(),
        worker: 'test',
        epoch: 1,
        policy,
        breaker: 'ledger',
        probe: false,
      };
      await starting.execute({ type: 'AppendEvents', jobId, expectedSeq: 1, epoch: 1, events: [started] });
      const failed: JobEvent = {
        type: 'StepFailed',
        stepId: 0,
        attempt: 1,
        failure: { name: 'Error', message: 'ledger down' },
        failedAt: Date.now(),
        final: true,
      };
      await failing.execute({ type: 'AppendEvents', jobId, expectedSeq: 2, epoch: 1, events: [failed] });
    };
    await failOnce(stack.engine, stack.engine, stack.engine);
    await failOnce(second, stack.engine, second);
    // Outcomes are recorded just after the commit that carries them.
    for (const engine of engines()) {
      await expect.poll(() => list(engine, 'ledger'), { timeout: 5_000 }).toMatchObject({ status: 'closed', consecutiveFailures: 2 });
    }
    // A restarted engine finds the count where the two engines left it.
    await stack.restart({ probeStartLeaseMs: 400 });
    expect(await list(stack.engine, 'ledger')).toMatchObject({ status: 'closed', consecutiveFailures: 2 });
    expect(await stream('ledger')).toEqual([]);
    await failOnce(second, second, stack.engine);
    await expect
      .poll(() => stream('ledger'), { timeout: 5_000 })
      .toEqual([expect.objectContaining({ type: 'BreakerOpened', reason: '3 failures in a row' })]);
    for (const engine of engines()) {
      expect(await list(engine, 'ledger')).toMatchObject({ status: 'open' });
      expect(await acquire(engine, ledger.policy, 'ledger')).toMatchObject({ admitted: false });
    }
  });

  it('take up a breaker that engines before the breakers table left only as a stream', async () => {
    const until = Date.now() + 3_600_000;
    await writeLegacyBreakerEvents(stack.env.DATABASE_URL as string, 'legacy', [
      { type: 'BreakerOpened', until: Date.now() - 1000, reason: '5 failures in a row' },
      { type: 'BreakerHalfOpened' },
      { type: 'BreakerOpened', until, reason: 'a half-open probe failed' },
    ]);
    const legacy = defineBreaker('legacy', { failureThreshold: 5, cooldown: '1h' });
    for (const engine of engines()) {
      expect(await list(engine, 'legacy')).toEqual({
        name: 'legacy',
        status: 'open',
        openUntil: until,
        consecutiveFailures: 0,
        probesInFlight: 0,
      });
      expect(await acquire(engine, legacy.policy, 'legacy')).toEqual({ admitted: false, probe: false, retryAt: until });
    }
    await second.execute({ type: 'ControlBreaker', op: 'reset', name: 'legacy' });
    expect(await list(stack.engine, 'legacy')).toMatchObject({ status: 'closed' });
    expect((await stack.store.readBreakerEvents('legacy')).map(({ seq, event }) => [seq, event.type])).toEqual([
      [1, 'BreakerOpened'],
      [2, 'BreakerHalfOpened'],
      [3, 'BreakerOpened'],
      [4, 'BreakerClosed'],
    ]);
  });

  it('run at most halfOpenProbes guarded calls at once while half-open, with jobs spread over two workers', async () => {
    for (const name of ['a', 'b']) await stack.startWorker([pass] as never, { name, breakers: [gate] });
    const jobs = await Promise.all(Array.from({ length: 12 }, () => stack.client.start(pass, {})));
    await expect.poll(async () => (await stream('gate')).map((e) => e.type), { timeout: 10_000 }).toContain('BreakerOpened');
    dependency.down = false;
    await expect(Promise.all(jobs.map((job) => job.result({ timeout: '30s' })))).resolves.toEqual(Array(12).fill('passed'));
    // Every probe's run, from its start to its end, as the logs hold them.
    const runs: [number, number][] = [];
    for (const job of jobs) {
      const log = (await stack.store.read(job.jobId)).map((e) => e.event);
      for (const event of log) {
        if (event.type !== 'StepStarted' || event.probe !== true) continue;
        const end = log.find((e) => (e.type === 'StepCompleted' || e.type === 'StepFailed') && e.attempt === event.attempt);
        if (!end) throw new Error(`probe attempt ${event.attempt} of ${job.jobId} has no end`);
        runs.push([event.startedAt, end.type === 'StepCompleted' ? end.completedAt : end.type === 'StepFailed' ? end.failedAt : 0]);
      }
    }
    const atOnce = runs.map(([start]) => runs.filter(([s, e]) => s <= start && start < e).length);
    expect(runs.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...atOnce)).toBeLessThanOrEqual(2);
    expect((await stream('gate')).map((e) => e.type).at(-1)).toBe('BreakerClosed');
  });
});
