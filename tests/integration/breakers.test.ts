import { subjectsFor } from '@ratchet/protocol';
import { CircuitOpenError, defineBreaker, defineWorkflow, EngineClient } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const payments = defineBreaker('payments', { failureThreshold: 3, cooldown: '400ms', halfOpenProbes: 2, successesToClose: 2 });
const shipping = defineBreaker('shipping', { failureThreshold: 1, cooldown: '1h' });

/** The dependency behind the breaker: every call it gets, and whether it is down. */
const dependency = { down: true, calls: [] as number[] };

const pay = defineWorkflow('pay', async (ctx) =>
  ctx.step(
    'charge',
    () => {
      dependency.calls.push(Date.now());
      if (dependency.down) throw new Error('payments provider down');
      return 'paid';
    },
    // Two attempts only: a job whose attempt the open breaker spent would fail.
    { breaker: 'payments', retry: { maximumAttempts: 2, initialInterval: '100ms' } },
  ),
);

const ship = defineWorkflow('ship', async (ctx) => {
  try {
    return await ctx.step('label', () => 'label printed', { breaker: shipping, onOpen: 'fail' });
  } catch (error) {
    if (error instanceof CircuitOpenError) return ctx.step('manual', () => 'queued for manual handling');
    throw error;
  }
});

const misnamed = defineWorkflow('misnamed', async (ctx) => {
  try {
    return await ctx.step('charge', () => 'charged', { breaker: 'paymnets' });
  } catch (error) {
    return `${(error as Error).message}; then ${await ctx.step('fallback', () => 'fell back')}`;
  }
});

describe.each(STACK_KINDS)('circuit breakers on %s', (kind) => {
  let stack: Stack;
  let engine: EngineClient;
  beforeAll(async () => {
    stack = await startStack(kind);
    for (const name of ['a', 'b']) await stack.startWorker([pay, ship, misnamed] as never, { name, breakers: [payments, shipping] });
    engine = new EngineClient({ transport: stack.transport, subjects: subjectsFor(stack.prefix) });
  });
  afterAll(() => stack.close());

  it('opens on failures, makes no calls while open, lets exactly K probes through half-open, and costs no job an attempt', async () => {
    dependency.down = true;
    dependency.calls.length = 0;
    const jobs = await Promise.all(Array.from({ length: 20 }, () => stack.client.start(pay, {})));
    const timeline = async () => (await stack.store.readBreakerEvents()).filter((e) => e.name === 'payments');
    await expect.poll(async () => (await timeline()).map((e) => e.event.type), { timeout: 10_000 }).toContain('BreakerOpened');
    // The provider recovers while the breaker is open.
    dependency.down = false;
    await expect(Promise.all(jobs.map((job) => job.result({ timeout: '20s' })))).resolves.toEqual(Array(20).fill('paid'));

    const events = await timeline();
    expect(events.map((e) => e.event.type).slice(0, 3)).toEqual(['BreakerOpened', 'BreakerHalfOpened', 'BreakerClosed']);
    const [opened, halfOpened, closed] = events as [(typeof events)[0], (typeof events)[0], (typeof events)[0]];
    expect(opened.event).toMatchObject({ reason: '3 failures in a row' });
    // Calls admitted just before the breaker opened may still be starting: allow them 100 ms.
    expect(dependency.calls.filter((at) => at > opened.recordedAt + 100 && at < halfOpened.recordedAt)).toEqual([]);
    expect(dependency.calls.filter((at) => at >= halfOpened.recordedAt && at <= closed.recordedAt)).toHaveLength(2);
    for (const job of jobs) {
      const log = (await stack.store.read(job.jobId)).map((e) => e.event);
      expect(log.filter((e) => e.type === 'StepStarted').length).toBeLessThanOrEqual(2);
      expect(log.at(-1)?.type).toBe('JobCompleted');
    }
    // Retries that met the open breaker were parked (StepBlocked), not spent.
    const blocked = await Promise.all(
      jobs.map(async (job) => (await stack.store.read(job.jobId)).some((e) => e.event.type === 'StepBlocked')),
    );
    expect(blocked.filter(Boolean).length).toBeGreaterThan(0);
  });

  it('fails a guarded step at once with CircuitOpenError when asked, and follows operators trip and reset', async () => {
    const tripped = await engine.send({ type: 'ControlBreaker', op: 'trip', name: 'shipping', forMs: 3_600_000 });
    expect(tripped.find((b) => b.name === 'shipping')).toMatchObject({ status: 'open' });
    const fallback = await stack.client.start(ship, {});
    await expect(fallback.result({ timeout: '10s' })).resolves.toBe('queued for manual handling');
    expect((await stack.store.read(fallback.jobId)).map((e) => e.event.type)).toEqual([
      'JobStarted',
      'StepBlocked',
      'StepStarted',
      'StepCompleted',
      'JobCompleted',
    ]);
    await engine.send({ type: 'ControlBreaker', op: 'reset', name: 'shipping' });
    await expect((await stack.client.start(ship, {})).result({ timeout: '10s' })).resolves.toBe('label printed');
    await expect(engine.send({ type: 'ControlBreaker', op: 'reset', name: 'nope' })).rejects.toMatchObject({ name: 'UnknownBreakerError' });
  });

  it('refuses a breaker policy that makes no sense, naming the field', () => {
    expect(() => defineBreaker('x', { failureThreshold: 0, cooldown: '1s' })).toThrow('failureThreshold must be an integer >= 1, got 0');
    expect(() => defineBreaker('x', { failureThreshold: 2, cooldown: -5 })).toThrow(/cooldown must be a finite number/);
    expect(() => defineBreaker('x', { cooldown: '1s' })).toThrow('give failureThreshold, failureRate or both');
    // Opens past the share of failures: at 1 it never would.
    expect(() => defineBreaker('x', { failureRate: { threshold: 1, minimumCalls: 5, window: '1m' }, cooldown: '1s' })).toThrow(
      'failureRate.threshold must be above 0 and below 1 (the share of failures it opens past), got 1',
    );
  });

  it('refuses a step that names a breaker its worker does not have, where the workflow can catch it', async () => {
    const job = await stack.client.start(misnamed, {});
    await expect(job.result({ timeout: '10s' })).resolves.toBe(
      'step "charge" names breaker "paymnets", which this worker does not have (it has: payments, shipping); then fell back',
    );
    // Refused before the call took a position: the log holds only the fallback.
    const steps = (await stack.store.read(job.jobId)).flatMap(({ event }) => (event.type === 'StepStarted' ? [event.name] : []));
    expect(steps).toEqual(['fallback']);
  });

  it('keeps an open breaker open across an engine restart', async () => {
    await engine.send({ type: 'ControlBreaker', op: 'trip', name: 'shipping', forMs: 3_600_000 });
    await stack.restart();
    await stack.startWorker([ship] as never, { name: 'after-restart', breakers: [shipping] });
    expect((await engine.send({ type: 'ControlBreaker', op: 'list' })).find((b) => b.name === 'shipping')).toMatchObject({
      status: 'open',
    });
    await expect((await stack.client.start(ship, {})).result({ timeout: '10s' })).resolves.toBe('queued for manual handling');
    await engine.send({ type: 'ControlBreaker', op: 'reset', name: 'shipping' });
  });
});
