import { HttpServer } from '@ratchet/engine';
import { foldEvents } from '@ratchet/protocol';
import type { Page } from 'playwright-core';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HeadlessChromium, launchChromium } from '../harness/chromium.ts';
import { type Stack, startStack } from '../harness/index.ts';
import { longJobEvents, writeLongJob } from './long-job.ts';

// The web UI's job page of a 10,000-event job, from real Postgres, in headless Chromium.
//
// What is timed, in this process around the browser (so the page's own JavaScript, the API calls
// it makes, layout and the protocol to Chromium are all in it):
// - opening the page: from `page.goto` of the job's address until the timeline shows its rows and
//   the state view its journal, the moment the page is usable;
// - a slider move: from setting the time-travel slider until the state view shows the fold at that
//   event (the label is written in the same task as the view). This includes the slider's 80 ms
//   settle delay (it spares the engine a fold for every pixel of a drag) and the engine's fold of
//   up to 10,000 events (`state?at=`, ~100 ms alone, see http-api-speed).
//
// The fastest of RUNS is judged: the machine is shared, and other work only ever adds time.
// The bounds: issue 5 asks the API to answer a 10,000-event job page in under 200 ms; the page
// needs that answer (the job and its folded state) plus a page of events, then draws them. Before
// the page drew windows it took 6.6 s to open and 0.8-3.3 s per slider move (150,000 elements);
// a page that draws a window must open in under 1 s and redraw in under 500 ms (an API answer,
// the settle delay and a drawing of at most a few hundred rows).

const EVENTS = 10_000;
const RUNS = 5;
const OPEN_BOUND_MS = 1000;
const SLIDE_BOUND_MS = 500;
const T0 = Date.UTC(2026, 0, 1);

const fastest = (runs: number[]) => Math.min(...runs);
const list = (runs: number[]) => runs.map((ms) => ms.toFixed(0)).join(', ');

describe('the web UI job page of a 10,000-event job, on real Postgres, in headless Chromium', () => {
  let stack: Stack;
  let server: HttpServer;
  let chromium: HeadlessChromium;
  let base: string;

  beforeAll(async () => {
    chromium = await launchChromium();
    stack = await startStack('postgres+nats');
    // Written straight to the store (as http-api-speed does): 10,000 events, the job's row, and
    // the snapshot the engine's snapshot taker would have left (every 1,000 events).
    const events = longJobEvents(EVENTS, T0);
    const sql = postgres(stack.env.DATABASE_URL as string, { max: 1, onnotice: () => {} });
    try {
      await writeLongJob(sql, events, T0);
      await sql.unsafe('analyze job_events');
    } finally {
      await sql.end();
    }
    const snapshotAt = EVENTS - 999;
    await stack.store.writeSnapshot(
      foldEvents(
        'long-job',
        events.slice(0, snapshotAt).map((event, i) => ({ seq: i + 1, recordedAt: T0 + i * 5, event })),
      ),
    );
    server = new HttpServer({ engine: stack.engine, store: stack.store });
    base = `http://127.0.0.1:${await server.listen(0)}`;
  }, 120_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.close();
    await stack?.close();
  });

  /** Opens the job page in a fresh tab; the ms from navigation until timeline rows and journal are drawn. */
  const open = async (page: Page): Promise<number> => {
    const started = performance.now();
    await page.goto(`${base}/#/jobs/long-job`);
    await page.locator('#timeline tbody tr[data-seq]').first().waitFor({ timeout: 30_000 });
    await page.locator('#journal li.entry').first().waitFor({ timeout: 30_000 });
    await page
      .locator('#time-travel-label')
      .filter({ hasText: `at event ${EVENTS} of ${EVENTS}` })
      .waitFor({ timeout: 30_000 });
    return performance.now() - started;
  };

  it('opens in under 1 s and redraws a slider move in under 500 ms', async () => {
    const pageErrors: string[] = [];
    const opens: number[] = [];
    const slides: number[] = [];
    const elements: number[] = [];
    for (let run = 0; run <= RUNS; run++) {
      const page = await chromium.context.newPage();
      page.on('pageerror', (error) => pageErrors.push(error.message));
      try {
        const ms = await open(page);
        if (run > 0) opens.push(ms); // the first run warms the engine's cache and the browser's
        elements.push(Number(await page.evaluate("document.getElementsByTagName('*').length")));
        for (const at of [5000 + run, 2000 + run, 9000 + run]) {
          const started = performance.now();
          await page.locator('#time-travel').fill(String(at));
          await page
            .locator('#time-travel-label')
            .filter({ hasText: `at event ${at} of ${EVENTS}` })
            .waitFor({ timeout: 30_000 });
          if (run > 0) slides.push(performance.now() - started);
        }
        // The state drawn is the fold at that event: the journal's last entry is the step then running.
        const lastStep = Math.floor((9000 + run - 2) / 2);
        expect(await page.locator('#journal li.entry').last().getAttribute('data-position')).toBe(String(lastStep));
      } finally {
        await page.close();
      }
    }
    process.stdout.write(
      `\nweb UI job page, ${EVENTS.toLocaleString('en-US')} events, fastest of ${RUNS}:\n` +
        `  open until timeline rows and state drawn  ${fastest(opens).toFixed(0)} ms  (runs ${list(opens)})\n` +
        `  slider move until the state is redrawn     ${fastest(slides).toFixed(0)} ms  (runs ${list(slides)})\n` +
        `  elements on the page                       ${Math.max(...elements)}\n`,
    );
    expect(pageErrors).toEqual([]);
    expect(fastest(opens), `opening: ${list(opens)} ms`).toBeLessThan(OPEN_BOUND_MS);
    expect(fastest(slides), `slider moves: ${list(slides)} ms`).toBeLessThan(SLIDE_BOUND_MS);
  }, 180_000);
});
