// The example workflows `npm start` runs (`ratchet dev --workflows sdk/examples/orders.ts --main`).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineWorkflow, RetryableError } from '@ratchet/sdk';

interface Order {
  readonly orderId: string;
  readonly items: readonly { sku: string; quantity: number; price: number }[];
  readonly email: string;
}

const pause = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * An order: reserve stock, charge the card (the payment provider fails twice, then accepts),
 * wait out a cooling-off period (a durable sleep), ship (slow: the demo crashes the worker
 * in the middle of it) and confirm.
 */
export const processOrder = defineWorkflow('process-order', async (ctx, order: Order) => {
  const total = order.items.reduce((sum, item) => sum + item.quantity * item.price, 0);
  const reservation = await ctx.step('reserve-stock', async () => {
    await pause(50);
    return { reservationId: `R-${order.orderId}`, skus: order.items.map((item) => item.sku) };
  });
  const payment = await ctx.step(
    'charge-card',
    async ({ attempt, idempotencyKey }) => {
      await pause(30);
      if (attempt <= 2) throw new RetryableError(`payment provider unavailable (attempt ${attempt})`);
      return { chargeId: `CH-${idempotencyKey}`, amount: total };
    },
    { retry: { maximumAttempts: 5, initialInterval: '300ms', backoffCoefficient: 2 } },
  );
  ctx.log.info('payment accepted, cooling-off period starts', { chargeId: payment.chargeId });
  await ctx.sleep('2s');
  const shipment = await ctx.step(
    'ship',
    async ({ signal }) => {
      await pause(3000, signal);
      return { trackingNumber: `TRK-${order.orderId}`, carrier: 'demo-post' };
    },
    { timeout: '30s' },
  );
  await ctx.step('send-confirmation', async () => {
    await pause(20);
    return { to: order.email, subject: `Order ${order.orderId} is on its way` };
  });
  return {
    orderId: order.orderId,
    total,
    reservation: reservation.reservationId,
    charge: payment.chargeId,
    tracking: shipment.trackingNumber,
  };
});

/** Context `ratchet dev --main` passes to `main` (structural, to keep this file free of the CLI). */
interface MainContext {
  readonly client: import('@ratchet/sdk').Client;
  readonly dataDir: string;
  onChange(
    listener: (change: {
      state: { jobId: string };
      events: readonly { event: { type: string; name?: string; attempt?: number } }[];
    }) => void,
  ): void;
  crashWorker(): Promise<void>;
  log(message: string): void;
}

/**
 * The main job: runs one order to completion, printing every event. The first time the `ship`
 * step runs, the worker crashes mid-step; a new worker takes the job over. Stop it with Ctrl-C at
 * any point and start it again: the same job resumes from its log in `.ratchet/`.
 */
export async function main({ client, dataDir, onChange, crashWorker, log }: MainContext): Promise<void> {
  const marker = join(dataDir, 'current-order');
  const previous = await readFile(marker, 'utf8').catch(() => undefined);
  let job = previous ? client.handle(previous.trim()) : undefined;
  if (job && (await job.status().catch(() => undefined))?.status !== 'running') job = undefined;
  if (job) {
    log(`resuming order job ${job.jobId} from its log`);
  } else {
    const orderId = `A${Date.now().toString().slice(-5)}`;
    job = await client.start(processOrder, {
      orderId,
      email: 'ada@example.com',
      items: [
        { sku: 'ratchet-wrench', quantity: 1, price: 24.5 },
        { sku: 'socket-set', quantity: 2, price: 12 },
      ],
    });
    await writeFile(marker, job.jobId);
    log(`started order job ${job.jobId} (order ${orderId})`);
  }
  const jobId = job.jobId;
  onChange(({ state, events }) => {
    if (state.jobId !== jobId) return;
    for (const { event } of events) {
      if (event.type === 'StepStarted' && event.name === 'ship' && event.attempt === 1) {
        setTimeout(() => {
          log('>>> simulating a worker crash in the middle of "ship"; a new worker takes over');
          void crashWorker();
        }, 1000);
      }
    }
  });
  const output = await job.result();
  log(`order job ${jobId} completed: ${JSON.stringify(output)}`);
  log(`its whole history: npm run ratchet -- history ${jobId}`);
}
