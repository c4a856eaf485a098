import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HttpServer } from '@ratchet/engine';
import { decode, encode } from '@ratchet/protocol';
import { defineWorkflow } from '@ratchet/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const gate = defineWorkflow('gate', async (ctx) => {
  await ctx.step('prepare', () => 'prepared');
  const go = await ctx.waitForSignal<{ ok: boolean }>('go');
  return ctx.step('finish', () => (go.timedOut ? 'late' : go.payload));
});

const quick = defineWorkflow('quick', async (ctx) => ctx.step('only', () => 42));

/** Returns what JSON has no word for: a bigint and bytes. */
const odd = defineWorkflow('odd', async (ctx) => ctx.step('count', () => ({ big: 12n, bytes: new Uint8Array([1, 2, 255]) })));

interface JobListPage {
  jobs: { jobId: string; workflow: string; status: string; startedAt: number; durationMs: number }[];
  next?: string;
}

/** An HTTP call to the server: status and parsed JSON body (or text). */
async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    redirect: 'manual',
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  // biome-ignore lint/suspicious/noExplicitAny: the tests read bodies by path; a wrong path fails its assertion.
  return { status: response.status, json: json as Record<string, any>, text, headers: response.headers };
}

/** A request with headers fetch will not send as given (Host): status, error name and body text. */
function rawRequest(base: string, method: string, path: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; json: { error?: { name: string; message: string } } | undefined }>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port: new URL(base).port, method, path, headers }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      response.on('end', () => {
        let json: { error?: { name: string; message: string } } | undefined;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: response.statusCode ?? 0, json });
      });
    })
      .on('error', reject)
      .end(body);
  });
}

/** Posts an engine command to /api/commands as MessagePack; the decoded reply. */
async function command(base: string, value: unknown, contentType = 'application/msgpack') {
  const response = await fetch(`${base}/api/commands`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: Buffer.from(encode(value)),
  });
  return { status: response.status, reply: response.ok ? decode(new Uint8Array(await response.arrayBuffer())) : await response.json() };
}

/** Polls `check` until it holds (outside a test, where expect.poll cannot run). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(STACK_KINDS)('the HTTP JSON API on %s', (kind) => {
  let stack: Stack;
  let server: HttpServer;
  let base: string;
  const get = (path: string) => call(base, 'GET', path);
  const post = (path: string, body?: unknown) => call(base, 'POST', path, body);
  const waitStatus = (jobId: string, status: string) =>
    expect.poll(async () => (await get(`/api/jobs/${jobId}`)).json.job.status, { timeout: 10_000 }).toBe(status);

  beforeAll(async () => {
    stack = await startStack(kind);
    await stack.startWorker([gate, quick, odd] as never);
    server = new HttpServer({ engine: stack.engine, store: stack.store });
    base = `http://127.0.0.1:${await server.listen(0)}`;
    for (const jobId of ['api-a-1', 'api-a-2', 'api-a-3']) await stack.client.start(gate, {}, { jobId });
    for (const jobId of ['api-b-1', 'api-b-2']) await (await stack.client.start(quick, {}, { jobId })).result({ timeout: '10s' });
    for (const jobId of ['api-a-1', 'api-a-2', 'api-a-3']) {
      await until(async () => (await stack.store.read(jobId)).at(-1)?.event.type === 'WaitStarted', `${jobId} waits for its signal`);
    }
  });
  afterAll(async () => {
    await server?.close();
    await stack?.close();
  });

  it('pages through the job list newest first by keyset, with every job once', async () => {
    const seen: JobListPage['jobs'] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await get(`/api/jobs?limit=2${after ? `&after=${after}` : ''}`);
      expect(page.status).toBe(200);
      const body = page.json as JobListPage;
      expect(body.jobs.length).toBeLessThanOrEqual(2);
      seen.push(...body.jobs);
      if (!body.next) break;
      after = body.next;
    }
    expect(seen.map((job) => job.jobId).sort()).toEqual(['api-a-1', 'api-a-2', 'api-a-3', 'api-b-1', 'api-b-2']);
    const started = seen.map((job) => job.startedAt);
    expect(started).toEqual([...started].sort((a, b) => b - a));
    expect(seen.find((job) => job.jobId === 'api-b-1')).toMatchObject({ workflow: 'quick', status: 'completed' });
    expect(seen.every((job) => job.durationMs >= 0)).toBe(true);
  });

  it('filters the job list by status, workflow and job id prefix', async () => {
    const ids = async (query: string) => ((await get(`/api/jobs?${query}`)).json as JobListPage).jobs.map((job) => job.jobId).sort();
    expect(await ids('status=completed')).toEqual(['api-b-1', 'api-b-2']);
    expect(await ids('status=running&workflow=gate')).toEqual(['api-a-1', 'api-a-2', 'api-a-3']);
    expect(await ids('workflow=quick')).toEqual(['api-b-1', 'api-b-2']);
    expect(await ids('q=api-a-')).toEqual(['api-a-1', 'api-a-2', 'api-a-3']);
    expect(await ids('q=api-b-2&status=completed')).toEqual(['api-b-2']);
    expect(await ids('status=failed')).toEqual([]);
  });

  it('refuses a bad list query with a 400 naming the problem', async () => {
    expect(await get('/api/jobs?status=sleeping')).toMatchObject({
      status: 400,
      json: { error: { message: expect.stringMatching(/status must be one of/) } },
    });
    expect(await get('/api/jobs?limit=0')).toMatchObject({
      status: 400,
      json: { error: { message: expect.stringMatching(/limit must be an integer/) } },
    });
    expect(await get('/api/jobs?after=garbage')).toMatchObject({ status: 400, json: { error: { name: 'BadCursor' } } });
    expect(await get(`/api/jobs?q=${encodeURIComponent("a' or 1=1")}`)).toMatchObject({
      status: 400,
      json: { error: { message: expect.stringMatching(/prefix/) } },
    });
  });

  it('shows a job with its folded state, its events a page at a time, and the state at any event', async () => {
    const job = await get('/api/jobs/api-b-1');
    expect(job.status).toBe(200);
    expect(job.json.job).toMatchObject({ jobId: 'api-b-1', workflow: 'quick', status: 'completed', output: 42, lastSeq: 4 });
    expect(job.json.state.journal[0]).toMatchObject({
      kind: 'step',
      name: 'only',
      status: 'completed',
      attempts: [{ attempt: 1, status: 'completed' }],
    });

    const first = await get('/api/jobs/api-b-1/events?limit=2');
    expect(first.json).toMatchObject({ jobId: 'api-b-1', status: 'completed', lastSeq: 4, more: true });
    expect(first.json.events.map((event: { seq: number; type: string }) => [event.seq, event.type])).toEqual([
      [1, 'JobStarted'],
      [2, 'StepStarted'],
    ]);
    expect(first.json.events[1].line).toMatchObject({ seq: 2, type: 'StepStarted', step: 'only', attempt: 1 });
    const rest = await get('/api/jobs/api-b-1/events?after=2');
    expect(rest.json.more).toBe(false);
    expect(rest.json.events.map((event: { seq: number }) => event.seq)).toEqual([3, 4]);
    expect(rest.json.events[0].line).toMatchObject({ type: 'StepCompleted', step: 'only' });

    const atTwo = await get('/api/jobs/api-b-1/state?at=2');
    expect(atTwo.json).toMatchObject({ at: 2, state: { status: 'running', lastSeq: 2, journal: [{ name: 'only', status: 'running' }] } });
    const atEnd = await get('/api/jobs/api-b-1/state?at=4');
    expect(atEnd.json.state).toMatchObject({ status: 'completed', output: 42 });
  });

  it('answers an unknown job, a bad seq, malformed JSON and an unknown route with the right status and a message', async () => {
    expect(await get('/api/jobs/no-such-job')).toMatchObject({
      status: 404,
      json: { error: { name: 'JobNotFoundError', message: 'no job no-such-job' } },
    });
    expect(await get('/api/jobs/no-such-job/events')).toMatchObject({ status: 404 });
    expect(await get('/api/jobs/no-such-job/state?at=1')).toMatchObject({ status: 404 });
    expect(await get('/api/jobs/api-b-1/state?at=99')).toMatchObject({
      status: 400,
      json: { error: { message: 'at=99: job api-b-1 has 4 events' } },
    });
    expect(await get('/api/jobs/api-b-1/state?at=0')).toMatchObject({
      status: 400,
      json: { error: { message: expect.stringMatching(/^at must be/) } },
    });
    expect(await get('/api/jobs/api-b-1/state')).toMatchObject({
      status: 400,
      json: { error: { message: expect.stringMatching(/at=<seq> is required/) } },
    });
    expect(await get('/api/jobs/api-b-1/events?after=-1')).toMatchObject({ status: 400 });
    expect(await get(`/api/jobs/${encodeURIComponent('bad id!')}`)).toMatchObject({
      status: 400,
      json: { error: { message: expect.stringMatching(/jobId/) } },
    });
    expect(await post('/api/jobs/api-a-1/signal', '{"name": "go"')).toMatchObject({
      status: 400,
      json: { error: { name: 'MalformedJson' } },
    });
    expect(await post('/api/jobs/api-a-1/signal', [1, 2])).toMatchObject({
      status: 400,
      json: { error: { message: expect.stringMatching(/JSON object/) } },
    });
    expect(await post('/api/jobs/api-a-1/signal', { payload: 1 })).toMatchObject({
      status: 400,
      json: { error: { message: expect.stringMatching(/name/) } },
    });
    expect(await get('/api/nothing-here')).toMatchObject({
      status: 404,
      json: { error: { name: 'RouteNotFound', message: 'no route GET /api/nothing-here' } },
    });
    expect(await get('/api/jobs/api-a-1/cancel')).toMatchObject({
      status: 405,
      json: { error: { message: expect.stringMatching(/use POST/) } },
    });
    expect(await call(base, 'POST', '/api/jobs/api-a-1/signal', 'x'.repeat(1024 * 1024 + 10))).toMatchObject({ status: 413 });
    // The bad requests wrote nothing: api-a-1 still waits, its log unchanged.
    expect((await stack.store.read('api-a-1')).at(-1)?.event.type).toBe('WaitStarted');
  });

  it('refuses what a page on another site could make a browser send: another content type, another Origin, another Host', async () => {
    // text/plain and forms need no CORS preflight, so any page can send them; JSON cannot be.
    const asText = await call(base, 'POST', '/api/jobs/api-a-3/terminate', '{"reason":"csrf"}', { 'content-type': 'text/plain' });
    expect(asText).toMatchObject({ status: 415, json: { error: { name: 'UnsupportedMediaType' } } });
    expect(asText.json.error.message).toMatch(/application\/json.*"text\/plain"/);
    const asForm = await call(base, 'POST', '/api/breakers/payments/trip', 'for=10m', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(asForm).toMatchObject({ status: 415, json: { error: { name: 'UnsupportedMediaType' } } });
    expect(await call(base, 'POST', '/api/breakers/payments/reset', '', { 'content-type': 'text/plain' })).toMatchObject({ status: 415 });
    // The same requests as JSON, but from another origin.
    for (const origin of ['http://evil.example', 'null', `http://127.0.0.1:${Number(new URL(base).port) + 1}`]) {
      expect(await call(base, 'POST', '/api/jobs/api-a-3/terminate', { reason: 'csrf' }, { origin }), origin).toMatchObject({
        status: 403,
        json: { error: { name: 'ForbiddenOrigin', message: expect.stringContaining(origin) } },
      });
    }
    expect(await call(base, 'POST', '/api/breakers/payments/trip', {}, { origin: 'http://evil.example' })).toMatchObject({ status: 403 });
    expect(await call(base, 'GET', '/api/jobs', undefined, { origin: 'http://evil.example' })).toMatchObject({ status: 403 });
    // Its own origin (the UI's requests) is served.
    expect(await call(base, 'GET', '/api/jobs', undefined, { origin: base })).toMatchObject({ status: 200 });
    // MessagePack commands only as application/msgpack.
    expect(await command(base, { type: 'CancelJob', jobId: 'api-a-3', reason: 'csrf', terminate: true }, 'text/plain')).toMatchObject({
      status: 415,
      reply: { error: { name: 'UnsupportedMediaType', message: expect.stringMatching(/application\/msgpack/) } },
    });
    const untyped = await fetch(`${base}/api/commands`, {
      method: 'POST',
      body: Buffer.from(encode({ type: 'GetJob', jobId: 'api-a-3' })),
    });
    expect(untyped.status).toBe(415);
    // A loopback server answers only to loopback names (a rebound DNS name reaches it as another Host).
    for (const host of ['evil.example', `evil.example:${new URL(base).port}`, '127.0.0.1.evil.example', 'localhost.evil.example:80']) {
      expect(await rawRequest(base, 'GET', '/api/jobs', { host }), host).toMatchObject({
        status: 403,
        json: { error: { name: 'ForbiddenHost', message: expect.stringContaining(host) } },
      });
    }
    expect((await rawRequest(base, 'GET', '/', { host: 'evil.example' })).status).toBe(403);
    for (const host of [
      'localhost',
      'localhost:7420',
      '127.0.0.1',
      `127.0.0.1:${new URL(base).port}`,
      '[::1]',
      '[::1]:80',
      'LOCALHOST:1',
    ]) {
      expect((await rawRequest(base, 'GET', '/api/jobs', { host })).status, host).toBe(200);
    }
    expect(
      (await rawRequest(base, 'POST', '/api/breakers/payments/trip', { host: 'evil.example', 'content-type': 'application/json' }, '{}'))
        .status,
    ).toBe(403);
    // None of it wrote anything: api-a-3 still waits, and there is no breaker "payments".
    expect((await stack.store.read('api-a-3')).at(-1)?.event.type).toBe('WaitStarted');
    expect((await get('/api/breakers')).json.breakers).not.toContainEqual(expect.objectContaining({ name: 'payments' }));
  });

  it('refuses seqs and cursors out of range with a 400 that names the parameter and its range', async () => {
    expect(await get('/api/jobs/api-b-1/events?after=3000000000')).toMatchObject({
      status: 400,
      json: { error: { name: 'BadQuery', message: 'after must be an integer from 0 to 2147483647, got "3000000000"' } },
    });
    expect(await get('/api/jobs/api-b-1/state?at=3000000000')).toMatchObject({
      status: 400,
      json: { error: { name: 'BadQuery', message: 'at must be an integer from 1 to 2147483647, got "3000000000"' } },
    });
    // An empty `at` is a missing one, not the first event; numbers are plain digits, as the CLI takes them.
    expect(await get('/api/jobs/api-b-1/state?at=')).toMatchObject({
      status: 400,
      json: { error: { name: 'BadQuery', message: 'at=<seq> is required: the event to fold the state up to' } },
    });
    for (const [param, text] of [
      ['state?at', '0x3'],
      ['state?at', '2e0'],
      ['events?after', ' 1'],
      ['events?limit', '1.0'],
    ]) {
      expect(await get(`/api/jobs/api-b-1/${param}=${encodeURIComponent(text as string)}`), `${param}=${text}`).toMatchObject({
        status: 400,
        json: { error: { name: 'BadQuery', message: expect.stringContaining(`got "${text}"`) } },
      });
    }
    // The last seqs there can be: an empty page, not an overflow.
    expect(await get('/api/jobs/api-b-1/events?after=2147483647&limit=1')).toMatchObject({
      status: 200,
      json: { lastSeq: 4, more: false, events: [] },
    });
    expect(await get('/api/jobs/api-b-1/events?after=2147483000&limit=5000')).toMatchObject({ status: 200, json: { events: [] } });
    const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const time of [1e300, -1, 8.64e15 + 1]) {
      expect(await get(`/api/jobs?after=${cursor([time, 'api-b-1'])}`), String(time)).toMatchObject({
        status: 400,
        json: { error: { name: 'BadCursor', message: expect.stringContaining('outside 0..8640000000000000 ms') } },
      });
    }
    expect(await get(`/api/jobs?after=${cursor([Date.now(), 'x\u0000y'])}`)).toMatchObject({
      status: 400,
      json: { error: { name: 'BadCursor', message: expect.stringContaining('jobId') } },
    });
    // The extremes of the range are pages like any other.
    expect(await get(`/api/jobs?after=${cursor([8.64e15, 'zzz'])}`)).toMatchObject({ status: 200 });
    expect(await get(`/api/jobs?after=${cursor([0, 'a'])}`)).toMatchObject({ status: 200, json: { jobs: [] } });
  });

  it('signals a job, cancels one and terminates one, and refuses actions on a finished job', async () => {
    const signalled = await post('/api/jobs/api-a-1/signal', { name: 'go', payload: { ok: true } });
    expect(signalled).toMatchObject({ status: 200, json: { signalId: expect.any(String) } });
    await waitStatus('api-a-1', 'completed');
    expect((await get('/api/jobs/api-a-1')).json.job.output).toEqual({ ok: true });

    expect(await post('/api/jobs/api-a-2/cancel', { reason: 'not needed' })).toMatchObject({
      status: 200,
      json: { job: { jobId: 'api-a-2' } },
    });
    await waitStatus('api-a-2', 'cancelled');
    const terminated = await post('/api/jobs/api-a-3/terminate');
    expect(terminated).toMatchObject({ status: 200, json: { job: { status: 'cancelled' } } });
    const types = (await stack.store.read('api-a-3')).map((recorded) => recorded.event);
    expect(types.at(-1)).toMatchObject({ type: 'JobCancelled', terminated: true, reason: 'terminated' });

    expect(await post('/api/jobs/api-a-1/signal', { name: 'go' })).toMatchObject({
      status: 409,
      json: { error: { name: 'JobFinishedError' } },
    });
    expect(await post('/api/jobs/api-b-1/cancel', {})).toMatchObject({ status: 409 });
    expect(await post('/api/jobs/no-such-job/terminate')).toMatchObject({ status: 404 });
  });

  it('forks a finished job from a step, and refuses a step the job does not have', async () => {
    const forked = await post('/api/jobs/api-b-2/fork', { from: 'only', jobId: 'api-b-2-fork' });
    expect(forked).toMatchObject({ status: 200, json: { jobId: 'api-b-2-fork', forkedFrom: { jobId: 'api-b-2', step: 'only' } } });
    await waitStatus('api-b-2-fork', 'completed');
    expect((await get('/api/jobs/api-b-2-fork')).json.state.forkedFrom).toMatchObject({ jobId: 'api-b-2' });

    const unknown = await post('/api/jobs/api-b-2/fork', { from: 'nope' });
    expect(unknown).toMatchObject({ status: 400, json: { error: { name: 'UnknownStepError' } } });
    expect(unknown.json.error.message).toContain('only');
    expect(await post('/api/jobs/api-b-2/fork', {})).toMatchObject({ status: 400, json: { error: { name: 'BadBody' } } });
    expect(await post('/api/jobs/api-b-2/fork', { from: 'only', jobId: 'api-b-2-fork' })).toMatchObject({ status: 409 });
    expect(await post('/api/jobs/no-such-job/fork', { from: 'only' })).toMatchObject({ status: 404 });
  });

  it('shows a job whose values JSON has no word for: bigints as decimal strings, bytes as base64', async () => {
    await (await stack.client.start(odd, 7n, { jobId: 'api-odd' })).result({ timeout: '10s' });
    const shown = { big: '12', bytes: { base64: 'AQL/' } };
    const job = await get('/api/jobs/api-odd');
    expect(job.json.job).toMatchObject({ status: 'completed', output: shown });
    expect(job.json.state).toMatchObject({ input: '7', journal: [{ name: 'count', output: shown }] });
    const events = await get('/api/jobs/api-odd/events');
    expect(events.status, events.text).toBe(200);
    expect(events.json.events.map((event: { type: string }) => event.type)).toEqual([
      'JobStarted',
      'StepStarted',
      'StepCompleted',
      'JobCompleted',
    ]);
    expect(events.json.events[2].event.output).toEqual(shown);
    expect(events.json.events[3].line.detail).toBe('output {"big":"12","bytes":{"base64":"AQL/"}}');
    expect((await get('/api/jobs/api-odd/state?at=3')).json.state.journal[0].output).toEqual(shown);
  });

  it('lists, trips and resets breakers', async () => {
    expect(await post('/api/breakers/inventory/trip', { for: 'soon' })).toMatchObject({
      status: 400,
      json: { error: { message: expect.stringMatching(/not a duration/) } },
    });
    const tripped = await post('/api/breakers/inventory/trip', { for: '10m' });
    expect(tripped.status).toBe(200);
    const open = tripped.json.breakers.find((breaker: { name: string }) => breaker.name === 'inventory');
    expect(open).toMatchObject({ status: 'open' });
    expect(open.openUntil).toBeGreaterThan(Date.now() + 9 * 60_000);
    expect((await get('/api/breakers')).json.breakers).toContainEqual(expect.objectContaining({ name: 'inventory', status: 'open' }));
    const reset = await post('/api/breakers/inventory/reset');
    expect(reset.json.breakers).toContainEqual(expect.objectContaining({ name: 'inventory', status: 'closed' }));
    expect(await post('/api/breakers/nothing/reset')).toMatchObject({ status: 404, json: { error: { name: 'UnknownBreakerError' } } });
  });

  it('trips a breaker no step has used yet (creating it), but not one with a name a step could not use or for longer than time goes', async () => {
    const fresh = await post('/api/breakers/never-used.1/trip', { for: '1m' });
    expect(fresh.status).toBe(200);
    expect(fresh.json.breakers).toContainEqual(expect.objectContaining({ name: 'never-used.1', status: 'open' }));
    expect((await post('/api/breakers/never-used.1/reset')).status).toBe(200);

    for (const name of ['not a name!', '-dash-first', 'x'.repeat(129), 'naïve']) {
      expect(await post(`/api/breakers/${encodeURIComponent(name)}/trip`, { for: '1m' }), name).toMatchObject({
        status: 400,
        json: { error: { name: 'BadPath', message: expect.stringMatching(/^breaker name .* must be 1-128 letters, digits, \. _ or -/) } },
      });
    }
    for (const duration of ['100000000d', 8.64e15, '99999999999999999999h', 1e300]) {
      expect(await post('/api/breakers/inventory/trip', { for: duration }), String(duration)).toMatchObject({
        status: 400,
        json: { error: { name: 'BadBody', message: expect.stringMatching(/^for must be at most \d+ ms/) } },
      });
    }
    // The engine's command refuses the same, whoever sends it (the CLI sends this).
    const badName = await command(base, { type: 'ControlBreaker', op: 'trip', name: 'not a name!', forMs: 60_000 });
    expect(badName.reply).toMatchObject({
      ok: false,
      error: { name: 'InvalidMessageError', message: expect.stringContaining('breaker name "not a name!" must be 1-128') },
    });
    const tooLong = await command(base, { type: 'ControlBreaker', op: 'trip', name: 'inventory', forMs: 8.64e15 });
    expect(tooLong.reply).toMatchObject({
      ok: false,
      error: { name: 'InvalidMessageError', message: expect.stringMatching(/forMs must be at most \d+/) },
    });
    const listed = (await get('/api/breakers')).json.breakers as { name: string; openUntil?: number }[];
    expect(listed.map((breaker) => breaker.name)).not.toContain('not a name!');
    expect(listed.every((breaker) => breaker.openUntil === undefined || breaker.openUntil <= 8.64e15)).toBe(true);
    expect(await stack.store.readBreakerEvents()).not.toContainEqual(expect.objectContaining({ name: 'not a name!' }));
  });

  it('serves the web UI from disk and nothing outside its folder; engine commands still go over MessagePack', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.text).toContain('<script type="module" src="/app.js">');
    expect((await get('/app.js')).headers.get('content-type')).toMatch(/text\/javascript/);
    expect((await get('/missing.js')).status).toBe(404);
    // Sent raw, so no client normalises the dots away.
    const port = new URL(base).port;
    for (const path of ['/../package.json', '/..%2f..%2fpackage.json', '/%2e%2e/%2e%2e/package.json']) {
      const status = await new Promise<number>((resolve, reject) => {
        httpRequest({ host: '127.0.0.1', port, path }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
      expect(status, path).toBe(404);
    }
    expect((await command(base, { type: 'GetJob', jobId: 'api-b-2' })).reply).toMatchObject({
      ok: true,
      value: { jobId: 'api-b-2', status: 'completed' },
    });
  });
});

describe('the HTTP API access token', () => {
  let stack: Stack;
  let server: HttpServer;
  let base: string;
  const token = 'a-long-enough-test-token-0123456789';
  beforeAll(async () => {
    stack = await startStack('pglite+memory');
    server = new HttpServer({ engine: stack.engine, store: stack.store, host: '0.0.0.0', token });
    base = `http://127.0.0.1:${await server.listen(0)}`;
  });
  afterAll(async () => {
    await server?.close();
    await stack?.close();
  });

  it('is required to listen beyond loopback', () => {
    expect(() => new HttpServer({ engine: stack.engine, store: stack.store, host: '0.0.0.0' })).toThrow(/beyond loopback.*access token/);
    expect(() => new HttpServer({ engine: stack.engine, store: stack.store, host: '0.0.0.0', token: 'short' })).toThrow(/at least 16/);
    // On loopback none is needed.
    expect(() => new HttpServer({ engine: stack.engine, store: stack.store })).not.toThrow();
  });

  it('refuses every request without it, with a wrong one, and admits the bearer token', async () => {
    for (const path of ['/api/jobs', '/', '/app.js', '/api/breakers']) {
      expect((await call(base, 'GET', path)).status, path).toBe(401);
      expect((await call(base, 'GET', path, undefined, { authorization: 'Bearer wrong-token-wrong-token' })).status, path).toBe(401);
      expect((await call(base, 'GET', path, undefined, { authorization: `Bearer ${token}` })).status, path).toBe(200);
    }
    const refused = await call(base, 'GET', '/api/jobs');
    expect(refused.json.error.message).toMatch(/Authorization: Bearer <token>/);
    expect((await call(base, 'POST', '/api/breakers/x/trip', {})).status).toBe(401);
    expect((await command(base, { type: 'GetJob', jobId: 'x' })).status).toBe(401);
  });

  it('beyond loopback answers to any Host (the token guards it), but not to another Origin', async () => {
    const authorization = `Bearer ${token}`;
    expect((await rawRequest(base, 'GET', '/api/jobs', { host: 'engine.internal:7420', authorization })).status).toBe(200);
    expect(
      await rawRequest(base, 'GET', '/api/jobs', { host: 'engine.internal:7420', origin: 'http://engine.internal:7420', authorization }),
    ).toMatchObject({ status: 200 });
    expect(
      await rawRequest(base, 'POST', '/api/breakers/x/trip', {
        host: 'engine.internal:7420',
        origin: 'http://evil.example',
        authorization,
        'content-type': 'application/json',
      }),
    ).toMatchObject({ status: 403, json: { error: { name: 'ForbiddenOrigin' } } });
  });

  it('lets the UI in once with ?token= and a cookie from then on', async () => {
    expect((await call(base, 'GET', '/?token=wrong-token-wrong-token')).status).toBe(401);
    const entry = await call(base, 'GET', `/?token=${token}`);
    expect(entry.status).toBe(303);
    expect(entry.headers.get('location')).toBe('/');
    const setCookie = entry.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const cookie = setCookie.split(';')[0] as string;
    expect((await call(base, 'GET', '/api/jobs', undefined, { cookie })).status).toBe(200);
    expect((await call(base, 'GET', '/', undefined, { cookie })).status).toBe(200);
    expect((await call(base, 'GET', '/api/jobs', undefined, { cookie: 'ratchet_token=wrong' })).status).toBe(401);
  });

  it('ratchet engine refuses to listen beyond loopback without RATCHET_API_TOKEN', async () => {
    const root = new URL('../..', import.meta.url).pathname;
    const result = await promisify(execFile)(process.execPath, [join(root, 'engine/bin/ratchet.mjs'), 'engine', '--http-host', '0.0.0.0'], {
      env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', RATCHET_API_TOKEN: '' },
      timeout: 30_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--http-host 0\.0\.0\.0 serves the HTTP API and UI beyond loopback: set RATCHET_API_TOKEN/);
  });
});
