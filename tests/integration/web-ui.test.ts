import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { HttpServer } from '@ratchet/engine';
import { foldEvents, type JobEvent, jobRowOf, resolveRetryPolicy } from '@ratchet/protocol';
import { defineBreaker, defineWorkflow, RetryableError } from '@ratchet/sdk';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HeadlessChromium, launchChromium } from '../harness/chromium.ts';
import { type Stack, startStack } from '../harness/index.ts';

/** Releases the `work` step of the ticket job: the test decides when it completes. */
let releaseWork: () => void = () => {};
const workReleased = new Promise<void>((resolve) => {
  releaseWork = resolve;
});
let fetchCalls = 0;

const label = defineWorkflow('label', async (ctx, input: { ticket: string }) => ctx.step('print', () => `label for ${input.ticket}`));

/** A job with something of everything on its page: retries, a child, a sleep, a signal, and a step the test controls. */
const ticket = defineWorkflow('ticket', async (ctx, input: { ticket: string }) => {
  const fetched = await ctx.step(
    'fetch',
    () => {
      fetchCalls += 1;
      if (fetchCalls < 3) throw new RetryableError(`tracker busy (call ${fetchCalls})`);
      return { ticket: input.ticket, priority: 'high' };
    },
    { retry: { initialInterval: '150ms', maximumAttempts: 5 } },
  );
  const printed = await ctx.child(label, { ticket: input.ticket });
  await ctx.sleep('200ms');
  const approval = await ctx.waitForSignal<{ by: string }>('approve');
  await ctx.step('work', async () => {
    await workReleased;
    return 'done';
  });
  return ctx.step('close', () => ({ ...fetched, printed, approvedBy: approval.timedOut ? null : approval.payload.by }));
});

const waiter = defineWorkflow('waiter', async (ctx) => {
  await ctx.step('ask', () => 'asked');
  await ctx.waitForSignal('answer');
  return 'answered';
});

const inventory = defineBreaker('inventory', { failureThreshold: 3, cooldown: '1m' });

const LONG_STEPS = 150;
/** Where step 40 failed once and was retried. */
const FLAKY_STEP = 40;

/** The log of a finished job of 150 steps (305 events), step 40 retried once after an error. */
function longJobLog(t0: number): JobEvent[] {
  const policy = resolveRetryPolicy({});
  const log: JobEvent[] = [{ type: 'JobStarted', workflow: 'long', version: '1', input: {}, epoch: 1, startedAt: t0 }];
  for (let stepId = 0; stepId < LONG_STEPS; stepId++) {
    const at = t0 + stepId * 10;
    log.push({ type: 'StepStarted', stepId, name: `step-${stepId}`, attempt: 1, startedAt: at, worker: 'w-1', epoch: 1, policy });
    if (stepId === FLAKY_STEP) {
      log.push(
        { type: 'StepFailed', stepId, attempt: 1, failure: { name: 'Error', message: `flaky ${stepId}` }, failedAt: at + 1, final: false },
        { type: 'StepRetryScheduled', stepId, attempt: 2, at: at + 5, durable: false },
        { type: 'StepStarted', stepId, name: `step-${stepId}`, attempt: 2, startedAt: at + 5, worker: 'w-1', epoch: 1 },
      );
    }
    log.push({ type: 'StepCompleted', stepId, attempt: stepId === FLAKY_STEP ? 2 : 1, output: stepId, completedAt: at + 8 });
  }
  log.push({ type: 'JobCompleted', output: LONG_STEPS, completedAt: t0 + LONG_STEPS * 10 });
  return log;
}

/** Waits for a locator to exist and show `text` (playwright-core has no expect of its own). */
async function seeText(page: Page, selector: string, text: string | RegExp, timeout = 15_000): Promise<void> {
  await page.locator(selector).filter({ hasText: text }).first().waitFor({ timeout });
}

describe('the web UI in headless Chromium, served by an engine on postgres+nats', () => {
  let stack: Stack;
  let server: HttpServer;
  let chromium: HeadlessChromium;
  let page: Page;
  let base: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // First, so a machine without Chromium fails here, saying how to install it.
    chromium = await launchChromium();
    stack = await startStack('postgres+nats');
    await stack.startWorker([ticket, label, waiter] as never, { breakers: [inventory] });
    server = new HttpServer({ engine: stack.engine, store: stack.store });
    base = `http://127.0.0.1:${await server.listen(0)}`;
    page = await chromium.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  });
  afterAll(async () => {
    releaseWork();
    await chromium?.close();
    await server?.close();
    await stack?.close();
  });

  it('lists jobs, filters them by status and finds one by its jobId', async () => {
    await stack.client.start(ticket, { ticket: 'T-1' }, { jobId: 'ticket-1' });
    await stack.client.start(waiter, {}, { jobId: 'waiter-1' });
    await page.goto(`${base}/`);
    await seeText(page, '#job-table tbody tr[data-job-id="ticket-1"]', 'ticket');
    await seeText(page, '#job-table tbody tr[data-job-id="waiter-1"]', 'running');

    await page.locator('input[name="q"]').fill('waiter');
    await page.locator('form.filters button[type="submit"]').click();
    await page.waitForURL(/#\/jobs\?q=waiter$/);
    const rows = page.locator('#job-table tbody tr');
    await expect
      .poll(async () => ((await rows.count()) === 1 ? rows.first().getAttribute('data-job-id') : `${await rows.count()} rows`))
      .toBe('waiter-1');

    await page.goto(`${base}/#/jobs?status=completed`);
    // The child job completes quickly; the parents are still running.
    await seeText(page, '#job-table tbody tr', 'label');
    const statuses = await page.locator('#job-table tbody tr .badge').allTextContents();
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set(['completed']));
  });

  it('opens a running job and shows a step complete live, with its attempts, child, signal and time travel', async () => {
    await page.goto(`${base}/#/jobs?q=ticket-1`);
    await page.locator('#job-table tr[data-job-id="ticket-1"] a').click();
    await seeText(page, '#job-status', 'running');
    // The failed attempts of `fetch`, with their errors, before the third succeeded.
    await seeText(page, '#journal li[data-kind="step"]', 'fetch');
    const fetchEntry = page.locator('#journal li[data-kind="step"]', { hasText: 'fetch' });
    await fetchEntry.locator('tr[data-attempt="3"][data-status="completed"]').waitFor({ timeout: 15_000 });
    expect(await fetchEntry.locator('tr[data-attempt="1"]').textContent()).toContain('RetryableError: tracker busy (call 1)');
    await seeText(page, '#journal li[data-kind="child"]', 'completed');
    await seeText(page, '#journal li[data-kind="wait"]', 'approve');

    // Approve from the UI: the job takes the signal and starts `work`, which waits for the test.
    await page.locator('input[name="signal"]').fill('approve');
    await page.locator('input[name="payload"]').fill('{"by": "web-ui"}');
    await page.locator('#send-signal').click();
    await seeText(page, '#action-message', 'done');
    const work = page.locator('#journal li[data-kind="step"][data-status="running"]', { hasText: 'work' });
    await work.waitFor({ timeout: 15_000 });
    const seqBefore = Number(await page.locator('#timeline tbody tr[data-seq]').last().getAttribute('data-seq'));

    // The step completes while the page is open: it shows without a reload.
    releaseWork();
    await page.locator('#journal li[data-kind="step"][data-status="completed"]', { hasText: 'work' }).waitFor({ timeout: 15_000 });
    await seeText(page, '#timeline tbody tr[data-type="StepCompleted"]', 'work');
    await seeText(page, '#job-status', 'completed');
    const seqAfter = Number(await page.locator('#timeline tbody tr[data-seq]').last().getAttribute('data-seq'));
    expect(seqAfter).toBeGreaterThan(seqBefore);
    await seeText(page, '.outcome', 'web-ui');
    // A finished job is not polled any more, and its actions are disabled.
    await page.locator('#job-summary[data-polling="stopped"]').waitFor({ timeout: 5_000 });
    expect(await page.locator('#cancel-job').isDisabled()).toBe(true);

    // Time travel: at event 2 the job had just started its first attempt.
    await page.locator('#time-travel').fill('2');
    await seeText(page, '#time-travel-label', 'at event 2 of');
    await expect.poll(() => page.locator('#journal li').count()).toBe(1);
    await seeText(page, '#journal li[data-kind="step"][data-status="running"]', 'fetch');
    expect(await page.locator('#timeline tr.selected').getAttribute('data-seq')).toBe('2');
    // At event 4 the first attempt had failed and the retry was scheduled: the page says when it comes.
    await page.locator('#time-travel').fill('4');
    await seeText(page, '#time-travel-label', 'at event 4 of');
    await seeText(page, '#journal li[data-kind="step"] .retry', /next attempt at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    await seeText(page, '#journal li[data-kind="step"] tr[data-attempt="1"]', 'RetryableError: tracker busy (call 1)');
    await page.locator('#follow').click();
    await seeText(page, '#journal li[data-kind="step"][data-status="completed"]', 'close');

    const shot = process.env.RATCHET_UI_SCREENSHOT;
    if (shot) {
      await page.locator('#time-travel').fill(String(seqAfter - 3));
      await seeText(page, '#time-travel-label', `at event ${seqAfter - 3} of`);
      await page.waitForTimeout(300);
      await mkdir(dirname(resolve(shot)), { recursive: true });
      await page.screenshot({ path: resolve(shot), fullPage: false });
    }
  });

  it('cancels a job from its page and shows it end as cancelled', async () => {
    await page.goto(`${base}/#/jobs/waiter-1`);
    await seeText(page, '#journal li[data-kind="wait"]', 'answer');
    await page.locator('input[name="reason"]').fill('no longer needed');
    await page.locator('#cancel-job').click();
    await seeText(page, '#job-status', 'cancelled');
    await seeText(page, '#timeline tbody tr[data-type="CancelRequested"]', 'no longer needed');
    await seeText(page, '.outcome', 'no longer needed');
    expect((await stack.client.describe('waiter-1')).status).toBe('cancelled');
  });

  it('forks a finished job from a step with a replaced result, and opens the fork', async () => {
    const calls = fetchCalls;
    await page.goto(`${base}/#/jobs/ticket-1`);
    await seeText(page, '#job-status', 'completed');
    await page.locator('input[name="fork-from"]').fill('work');
    await page.locator('input[name="fork-outputs"]').fill('{"fetch": {"ticket": "T-1", "priority": "low"}}');
    await page.locator('#fork-job').click();
    await page.waitForURL((url) => /#\/jobs\/(?!ticket-1$)/.test(url.hash), { timeout: 10_000 });
    const forkId = decodeURIComponent(new URL(page.url()).hash.replace('#/jobs/', ''));
    await seeText(page, '#forked-from', 'ticket-1');
    await seeText(page, '#job-status', 'completed');
    await seeText(page, '.outcome', 'low');
    // The recorded prefix was reused: `fetch` did not run again.
    expect(fetchCalls).toBe(calls);
    expect(await stack.client.handle(forkId).result({ timeout: '5s' })).toMatchObject({ priority: 'low', approvedBy: 'web-ui' });
  });

  it('trips a breaker and resets it', async () => {
    await page.goto(`${base}/#/breakers`);
    await page.locator('#breaker-table').waitFor();
    await page.locator('input[name="name"]').fill('inventory');
    await page.locator('input[name="for"]').fill('10m');
    await page.locator('form.filters button[type="submit"]').click();
    await seeText(page, '#breaker-table tr[data-breaker="inventory"]', 'open');
    expect(await stack.engine.execute({ type: 'ControlBreaker', op: 'list' })).toContainEqual(
      expect.objectContaining({ name: 'inventory', status: 'open' }),
    );
    await page.locator('#breaker-table tr[data-breaker="inventory"] button.reset').click();
    await seeText(page, '#breaker-table tr[data-breaker="inventory"]', 'closed');
    expect(await stack.engine.execute({ type: 'ControlBreaker', op: 'list' })).toContainEqual(
      expect.objectContaining({ name: 'inventory', status: 'closed' }),
    );
  });

  it('takes the access token once from the address when the engine listens beyond loopback', async () => {
    const token = 'web-ui-test-token-0123456789';
    const guarded = new HttpServer({ engine: stack.engine, store: stack.store, host: '0.0.0.0', token });
    const guardedBase = `http://127.0.0.1:${await guarded.listen(0)}`;
    const other = await chromium.context.newPage();
    try {
      const refused = await other.goto(`${guardedBase}/`);
      expect(refused?.status()).toBe(401);
      expect(await other.textContent('body')).toContain('access token');
      await other.goto(`${guardedBase}/?token=${token}`);
      // Redirected to the address without the token; the cookie carries it from then on, API calls included.
      expect(other.url()).toBe(`${guardedBase}/`);
      await seeText(other, '#job-table tbody tr[data-job-id="ticket-1"]', 'ticket');
    } finally {
      await other.close();
      await guarded.close();
    }
  });

  it('refuses the requests a page on another site makes the browser send to the engine', async () => {
    await stack.client.start(waiter, {}, { jobId: 'waiter-csrf' });
    await expect.poll(async () => (await stack.store.read('waiter-csrf')).at(-1)?.event.type, { timeout: 10_000 }).toBe('WaitStarted');
    // Another origin (another port): what any site the operator visits could serve. Forms and
    // no-cors fetches need no CORS preflight, so the browser sends them and only the engine can refuse.
    const evilPage = `<!doctype html><title>evil</title>
      <iframe name="sink"></iframe>
      <form id="form" method="POST" target="sink" action="${base}/api/breakers/csrf-form/trip"><input name="for" value="10m"></form>
      <script>
        const sent = [
          fetch('${base}/api/jobs/waiter-csrf/terminate', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"reason":"csrf"}' }),
          fetch('${base}/api/breakers/csrf-fetch/trip', { method: 'POST', mode: 'no-cors', body: new URLSearchParams({ for: '10m' }) }),
          fetch('${base}/api/jobs/waiter-csrf/cancel', { method: 'POST', mode: 'no-cors' }),
          new Promise((resolve) => { document.querySelector('iframe').onload = resolve; document.getElementById('form').submit(); }),
        ];
        Promise.allSettled(sent).then(() => { document.title = 'sent'; });
      </script>`;
    const evil = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end(evilPage));
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const other = await chromium.context.newPage();
    try {
      await other.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
      await other.waitForFunction("document.title === 'sent'", undefined, { timeout: 10_000 });
    } finally {
      await other.close();
      evil.closeAllConnections();
      await new Promise((resolve) => evil.close(resolve));
    }
    expect((await stack.store.read('waiter-csrf')).at(-1)?.event.type).toBe('WaitStarted');
    const names = ((await stack.engine.execute({ type: 'ControlBreaker', op: 'list' })) as { name: string }[]).map(
      (breaker) => breaker.name,
    );
    expect(names).not.toContain('csrf-form');
    expect(names).not.toContain('csrf-fetch');
  });

  it('draws a long job in windows: the timeline rows in sight and a page of the journal, both movable', async () => {
    const t0 = Date.now() - 60_000;
    const log = longJobLog(t0);
    const state = foldEvents(
      'long-ui',
      log.map((event, i) => ({ seq: i + 1, recordedAt: t0 + i, event })),
    );
    const [appended] = await stack.store.append([
      { jobId: 'long-ui', expectedSeq: 0, events: log, recordedAt: t0, job: jobRowOf(state), timers: { added: [], removed: [] } },
    ]);
    expect(appended?.ok).toBe(true);
    const last = log.length;
    await page.goto(`${base}/#/jobs/long-ui`);
    await seeText(page, '#job-status', 'completed');
    await seeText(page, '#time-travel-label', `at event ${last} of ${last}`);
    // The timeline starts at the newest event and draws the rows in sight (and a margin), not all 305.
    await page.locator(`#timeline tbody tr[data-seq="${last}"]`).waitFor({ timeout: 5_000 });
    const drawn = await page.locator('#timeline tbody tr').count();
    expect(drawn).toBeGreaterThan(20);
    expect(drawn).toBeLessThan(150);
    // Rows have the one height the window's arithmetic counts on (ROW_PX in timeline-view.js).
    expect(await page.locator(`#timeline tbody tr[data-seq="${last}"]`).evaluate((row) => row.getBoundingClientRect().height)).toBe(24);

    // The journal shows its last page of 50 entries, and pages back to the first.
    await seeText(page, '#journal-range', `101–${LONG_STEPS} of ${LONG_STEPS}`);
    expect(await page.locator('#journal li.entry').count()).toBe(50);
    await page.locator('#journal-first').click();
    await seeText(page, '#journal-range', `1–50 of ${LONG_STEPS}`);
    expect(await page.locator('#journal li.entry').first().getAttribute('data-position')).toBe('0');
    await page.locator('#journal-later').click();
    await seeText(page, '#journal-range', `51–100 of ${LONG_STEPS}`);
    // Only the entries that had trouble: the flaky step, with its failed attempt and its error.
    await page.locator('#journal-problems').check();
    await seeText(page, '#journal-range', `1–1 of 1 (of ${LONG_STEPS})`);
    await seeText(
      page,
      `#journal li[data-position="${FLAKY_STEP}"] tr[data-attempt="1"][data-status="failed"]`,
      `Error: flaky ${FLAKY_STEP}`,
    );
    await page.locator('#journal-problems').uncheck();

    // Travel to the retry: the timeline brings that event into sight, selected, and the state then says when the next attempt comes.
    const retrySeq = log.findIndex((event) => event.type === 'StepRetryScheduled') + 1;
    await page.locator('#time-travel').fill(String(retrySeq));
    await seeText(page, '#time-travel-label', `at event ${retrySeq} of ${last} · StepRetryScheduled`);
    await page.locator(`#timeline tr.selected[data-seq="${retrySeq}"]`).waitFor({ timeout: 5_000 });
    expect(await page.locator(`#timeline tr[data-seq="${last}"]`).count()).toBe(0);
    await seeText(page, `#journal li[data-position="${FLAKY_STEP}"] .retry`, /next attempt at \d{4}-\d\d-\d\d/);

    // Scrolled to the top, the timeline draws the first events; a click on a row travels there.
    await page.locator('#timeline-scroll').evaluate((box) => {
      box.scrollTop = 0;
    });
    await seeText(page, '#timeline tbody tr[data-seq="1"]', 'JobStarted');
    await page.locator('#timeline tbody tr[data-seq="3"]').click();
    await seeText(page, '#time-travel-label', `at event 3 of ${last} · StepCompleted`);
    await expect.poll(() => page.locator('#journal li.entry').count()).toBe(1);
    // "Latest" goes back to the end: the newest row is drawn again.
    await page.locator('#follow').click();
    await seeText(page, '#time-travel-label', `at event ${last} of ${last}`);
    await page.locator(`#timeline tr.selected[data-seq="${last}"]`).waitFor({ timeout: 5_000 });
  });

  it('ran without errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});

describe('the web UI test on a machine without Chromium', () => {
  it('fails, saying how to install it', async () => {
    await expect(launchChromium('/nonexistent/chromium')).rejects.toThrow(
      'the web UI tests need Chromium at /nonexistent/chromium: install it with `apt-get install --no-install-recommends chromium`',
    );
  });
});
