import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { isExecutable } from './find-executable.ts';

/** Debian's Chromium; the browser tests drive it through playwright-core. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** A headless Chromium with a profile of its own; `close()` ends it and removes the profile. */
export interface HeadlessChromium {
  /** The browser's one context (its profile); open pages with `context.newPage()`. */
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches Debian's Chromium headless, with a fresh profile (`--user-data-dir`) and no background traffic. Without
 * Chromium it throws, saying how to install it: the browser tests fail rather than skip.
 */
export async function launchChromium(executablePath = CHROMIUM_PATH): Promise<HeadlessChromium> {
  if (!isExecutable(executablePath)) {
    throw new Error(
      `the web UI tests need Chromium at ${executablePath}: install it with \`apt-get install --no-install-recommends chromium\` (Debian; .ci/run does this)`,
    );
  }
  const profile = await mkdtemp(join(tmpdir(), 'ratchet-chromium-'));
  // A persistent context is how playwright takes a profile folder (it refuses --user-data-dir in args).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}
