import { subjectsFor } from '@ratchet/protocol';
import { defineBreaker, defineWorkflow, EngineClient } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const ledger = defineBreaker('ledger', { failureThreshold: 1, cooldown: '100ms', halfOpenProbes: 1 });

const post = defineWorkflow('post-entry', async (ctx) => ctx.step('post', () => 'posted', { breaker: ledger }));

describe.each(STACK_KINDS)('half-open probes on %s', (kind) => {
  let stack: Stack;
  let engine: EngineClient;
  beforeAll(async () => {
    stack = await startStack(kind, { probeStartLeaseMs: 800 });
    await stack.startWorker([post] as never, { breakers: [ledger] });
    engine = new EngineClient({ transport: stack.transport, subjects: subjectsFor(stack.prefix) });
  });
  afterAll(() => stack.close());

  it('give back the slot of a probe whose worker died before starting it, so the breaker can close', async () => {
    await engine.send({ type: 'ControlBreaker', op: 'trip', name: 'ledger', forMs: 100 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // What a worker killed between its admission and its StepStarted leaves behind: the only slot, taken.
    await expect(engine.send({ type: 'AcquireBreaker', name: 'ledger', policy: ledger.policy })).resolves.toMatchObject({
      admitted: true,
      probe: true,
    });
    const job = await stack.client.start(post, {});
    await expect(job.result({ timeout: '10s' })).resolves.toBe('posted');
    const events = (await stack.store.read(job.jobId)).map((e) => e.event);
    // Held back while the dead worker's probe had the slot, then let through as the probe.
    expect(events.some((e) => e.type === 'StepBlocked')).toBe(true);
    expect(events.filter((e) => e.type === 'StepStarted')).toMatchObject([{ attempt: 1, breaker: 'ledger', probe: true }]);
    // The probe's outcome reaches the breaker just after the commit that ends the job.
    await expect
      .poll(async () => (await engine.send({ type: 'ControlBreaker', op: 'list' }))[0], { timeout: 5_000 })
      .toMatchObject({ name: 'ledger', status: 'closed', probesInFlight: 0 });
  });
});
