import { connect, RequestError } from '@nats-io/transport-node';
import postgres from 'postgres';

/**
 * The answer of a probe: usable, or the reason it is not, worded for the error the harness throws.
 * `final` marks an answer waiting will not change (wrong password, JetStream disabled for the account).
 */
export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly final?: boolean };

/** Connects to `url` and runs `SELECT 1`. */
export async function probePostgres(url: string, timeoutMs = 3_000): Promise<ProbeResult> {
  const sql = postgres(url, { max: 1, connect_timeout: Math.max(1, Math.ceil(timeoutMs / 1000)), onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return { ok: true };
  } catch (error) {
    // A SQLSTATE is the server's answer (bad credentials, no such database); only 57P03 means "still starting".
    const code = (error as { code?: unknown }).code;
    const final = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && code !== '57P03';
    return { ok: false, reason: `SELECT 1 failed: ${messageOf(error)}`, final };
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/**
 * Connects to `url` and asks JetStream for the account's info (`$JS.API.INFO`): a server started
 * without `-js` has no responder there, and one whose account lacks JetStream answers an error.
 */
export async function probeNatsJetStream(url: string, timeoutMs = 3_000): Promise<ProbeResult> {
  let nc: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    nc = await connect({ servers: url, timeout: timeoutMs, reconnect: false });
  } catch (error) {
    return { ok: false, reason: `could not connect: ${messageOf(error)}` };
  }
  try {
    const reply = await nc.request('$JS.API.INFO', '', { timeout: timeoutMs });
    const info = reply.json<{ error?: { code?: number; description?: string } }>();
    if (info.error) {
      return { ok: false, reason: `JetStream answered an error: ${info.error.description ?? JSON.stringify(info.error)}`, final: true };
    }
    return { ok: true };
  } catch (error) {
    // nats-server enables JetStream before it accepts clients: no responder now means none later.
    const final = error instanceof RequestError && error.isNoResponders();
    return { ok: false, reason: `no JetStream ($JS.API.INFO: ${messageOf(error)}); start nats-server with -js`, final };
  } finally {
    await nc.close().catch(() => {});
  }
}

/**
 * Repeats `probe` until it succeeds, answers a final failure, `giveUp()` returns a reason to stop early (the server process
 * died), or `timeoutMs` has passed; resolves with the last result.
 */
export async function waitForProbe(
  probe: () => Promise<ProbeResult>,
  options: { readonly timeoutMs: number; readonly giveUp?: () => string | undefined },
): Promise<ProbeResult> {
  const deadline = Date.now() + options.timeoutMs;
  let last: ProbeResult = { ok: false, reason: 'not probed yet' };
  for (;;) {
    const stop = options.giveUp?.();
    if (stop) return { ok: false, reason: stop };
    last = await probe();
    if (last.ok || last.final) return last;
    if (Date.now() >= deadline) return { ok: false, reason: `not ready after ${options.timeoutMs} ms (${last.reason})` };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The message of anything thrown, on one line. */
export function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.replace(/\s+/g, ' ').trim();
}
