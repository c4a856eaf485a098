// The examples of "Testing workflows" in sdk/README.md, verbatim: they run here so they cannot rot.
import { crashAfterStep, failAttempt, TestEnvironment } from '@ratchet/engine/testing';
import { defineWorkflow } from '@ratchet/sdk';
import { afterEach, expect, it } from 'vitest';

let env: TestEnvironment;
afterEach(() => env.close());

const DAY = 24 * 60 * 60 * 1000;

const trial = defineWorkflow('trial', async (ctx, user: string) => {
  await ctx.step('welcome', () => `welcomed ${user}`);
  await ctx.sleep('30d');
  return ctx.step('convert', () => `trial of ${user} ended`);
});

it('ends the trial 30 days after it starts', async () => {
  env = await TestEnvironment.create({ workflows: [trial] });
  const start = env.now();
  const job = await env.client.start(trial, 'ada');
  expect(await job.result()).toBe('trial of ada ended'); // at once, in wall time
  const history = await env.history(job.jobId);
  const ended = history.find((e) => e.event.type === 'JobCompleted');
  expect(ended?.recordedAt).toBe(start + 30 * DAY);
});

const charged: string[] = [];
const order = defineWorkflow('order', async (ctx, orderId: string) => {
  await ctx.step('charge', () => charged.push(orderId));
  return ctx.step('ship', () => `shipped ${orderId}`);
});

it('charges once when the worker crashes right after charging', async () => {
  env = await TestEnvironment.create({ workflows: [order], faults: [crashAfterStep('charge')] });
  const job = await env.client.start(order, 'A-1');
  expect(await job.result()).toBe('shipped A-1');
  expect(charged).toEqual(['A-1']); // a fresh worker took over and did not charge again
  const history = await env.history(job.jobId);
  expect(history.some((e) => e.event.type === 'JobClaimed')).toBe(true);
  expect(env.injectedFaults.map((f) => f.fault.kind)).toEqual(['crash-after-step']);
});

const pay = defineWorkflow('pay', async (ctx, orderId: string) =>
  ctx.step('charge', ({ attempt }) => `${orderId} charged on attempt ${attempt}`, {
    retry: { initialInterval: '1h', maximumAttempts: 3 },
  }),
);

it('retries a failed charge an hour later', async () => {
  const down = new Error('card service down');
  env = await TestEnvironment.create({ workflows: [pay], faults: [failAttempt('charge', 1, { error: down })] });
  const job = await env.client.start(pay, 'A-2');
  expect(await job.result()).toBe('A-2 charged on attempt 2');
  const [charge] = (await env.describe(job.jobId)).journal;
  expect(charge?.kind === 'step' && charge.attempts.map((a) => [a.status, a.failure?.message])).toEqual([
    ['failed', 'card service down'],
    ['completed', undefined],
  ]);
  const [first, second] = charge?.kind === 'step' ? charge.attempts : [];
  expect((second?.startedAt ?? 0) - (first?.endedAt ?? 0)).toBe(60 * 60 * 1000);
});
