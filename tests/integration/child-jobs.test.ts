import { ChildFailedError, defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const shipItem = defineWorkflow('ship-item', async (ctx, input: { sku: string; fail?: boolean }) => {
  await ctx.sleep('200ms');
  return ctx.step(
    'ship',
    () => {
      if (input.fail) throw new Error(`no stock of ${input.sku}`);
      return `shipped ${input.sku}`;
    },
    { retry: { maximumAttempts: 1 } },
  );
});

const order = defineWorkflow('order-with-children', async (ctx, input: { skus: string[] }) => {
  const shipped = await Promise.all(input.skus.map((sku) => ctx.child(shipItem, { sku })));
  return shipped;
});

const careful = defineWorkflow('careful-order', async (ctx) => {
  try {
    return await ctx.child(shipItem, { sku: 'x', fail: true });
  } catch (error) {
    return error instanceof ChildFailedError ? `child failed: ${error.failure.message}` : 'other';
  }
});

const patientParent = defineWorkflow('patient-parent', async (ctx) => ctx.child('long-child', {}));
const longChild = defineWorkflow('long-child', async (ctx) => {
  await ctx.sleep('1h');
  return 'never';
});

// Ends by its execution timeout while its child sleeps on.
const hastyParent = defineWorkflow('hasty-parent', async (ctx) => ctx.child(longChild, {}), { timeout: '500ms' });
// Returns once the race is won, its child still running.
const racingParent = defineWorkflow('racing-parent', async (ctx) =>
  Promise.race([ctx.child(longChild, {}), ctx.sleep('200ms').then(() => 'stopped waiting')]),
);
const detachingParent = defineWorkflow('detaching-parent', async (ctx) => ctx.child(shipItem, { sku: 'd' }, { cancelWithParent: false }));

const lostChild = defineWorkflow('lost-child', async (ctx) => {
  try {
    return await ctx.child('no-such-workflow', {});
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
});

describe.each(STACK_KINDS)('child jobs on %s', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
    await stack.startWorker([
      shipItem,
      order,
      careful,
      patientParent,
      longChild,
      hastyParent,
      racingParent,
      detachingParent,
      lostChild,
    ] as never);
  });
  afterAll(() => stack.close());

  it('finishes a parent waiting on several children however their ends interleave with its runs', async () => {
    // The parent's run that takes in one child's end can still be waiting on another: it must
    // park again, or the wake-ups of the children still to end queue behind it for good.
    for (let round = 0; round < 6; round++) {
      const job = await stack.client.start(order, { skus: ['x', 'y', 'z'] });
      await expect(job.result({ timeout: '5s' })).resolves.toEqual(['shipped x', 'shipped y', 'shipped z']);
    }
  }, 40_000);

  it('runs children as jobs of their own and returns their outputs', async () => {
    const job = await stack.client.start(order, { skus: ['a', 'b', 'c'] });
    await expect(job.result({ timeout: '15s' })).resolves.toEqual(['shipped a', 'shipped b', 'shipped c']);
    const child = await stack.client.describe(`${job.jobId}.c1`);
    expect(child).toMatchObject({ status: 'completed', workflow: 'ship-item', parent: { jobId: job.jobId, position: 1 } });
    expect((await stack.store.read(`${job.jobId}.c1`)).map((e) => e.event.type)).toContain('TimerFired');
  });

  it('lets the parent catch a failed child', async () => {
    const job = await stack.client.start(careful, {});
    await expect(job.result({ timeout: '15s' })).resolves.toBe(
      'child failed: step "ship" failed after 1 attempt (all 1 attempts failed): no stock of x',
    );
  });

  it('cancels the children of a cancelled parent', async () => {
    const job = await stack.client.start(patientParent, {});
    const childId = `${job.jobId}.c0`;
    await expect
      .poll(
        async () =>
          (
            await stack.client
              .handle(childId)
              .status()
              .catch(() => undefined)
          )?.status,
        { timeout: 10_000 },
      )
      .toBe('running');
    await expect.poll(async () => (await stack.store.read(childId)).at(-1)?.event.type, { timeout: 10_000 }).toBe('TimerStarted');
    await stack.client.cancel(job.jobId, 'order withdrawn');
    await expect(job.result({ timeout: '10s' })).rejects.toMatchObject({ failure: { name: 'CancelledError' } });
    await expect(stack.client.handle(childId).result({ timeout: '10s' })).rejects.toMatchObject({
      failure: { name: 'CancelledError', message: 'order withdrawn' },
    });
  });

  it('cancels the children of a parent that ends before them, by its timeout or by returning', async () => {
    const timedOut = await stack.client.start(hastyParent, {});
    await expect(timedOut.result({ timeout: '10s' })).rejects.toMatchObject({ failure: { name: 'WorkflowTimeoutError' } });
    await expect(stack.client.handle(`${timedOut.jobId}.c0`).result({ timeout: '10s' })).rejects.toMatchObject({
      failure: { name: 'CancelledError', message: `parent job ${timedOut.jobId} failed` },
    });
    const returned = await stack.client.start(racingParent, {});
    await expect(returned.result({ timeout: '10s' })).resolves.toBe('stopped waiting');
    await expect(stack.client.handle(`${returned.jobId}.c0`).result({ timeout: '10s' })).rejects.toMatchObject({
      failure: { name: 'CancelledError', message: `parent job ${returned.jobId} completed` },
    });
  });

  it('lets a child started with cancelWithParent: false run on after its parent is cancelled', async () => {
    const job = await stack.client.start(detachingParent, {});
    const childId = `${job.jobId}.c0`;
    await expect.poll(async () => (await stack.store.read(childId)).at(-1)?.event.type, { timeout: 10_000 }).toBe('TimerStarted');
    await stack.client.cancel(job.jobId, 'order withdrawn');
    await expect(job.result({ timeout: '10s' })).rejects.toMatchObject({ failure: { name: 'CancelledError' } });
    await expect(stack.client.handle(childId).result({ timeout: '10s' })).resolves.toBe('shipped d');
    expect((await stack.store.read(childId)).map((e) => e.event.type)).not.toContain('CancelRequested');
  });

  it('refuses a child of a workflow no worker has, with an error the parent can catch', async () => {
    const job = await stack.client.start(lostChild, {});
    await expect(job.result({ timeout: '10s' })).resolves.toMatch(
      /^UnknownWorkflowError: no running worker has workflow "no-such-workflow" \(known: .*lost-child/,
    );
    await expect(stack.client.describe(`${job.jobId}.c0`)).rejects.toMatchObject({ name: 'JobNotFoundError' });
  });
});
