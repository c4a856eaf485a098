import { decode, type EngineCommand, subjectsFor } from '@ratchet/protocol';
import { defineWorkflow, EngineClient } from '@ratchet/sdk';
import type { Transport } from '@ratchet/sdk/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

const tenSteps = defineWorkflow('batch-ten-steps', async (ctx) => {
  let total = 0;
  for (let i = 0; i < 10; i++) total += await ctx.step(`step-${i}`, () => i);
  return total;
});

/** Steps whose outputs are large enough that a few jobs' appends outgrow the engine's limit together. */
const bulky = defineWorkflow('batch-bulky', async (ctx, input: { tag: string }) => {
  const first = await ctx.step('first', () => `${input.tag}:${'x'.repeat(6000)}`);
  const second = await ctx.step('second', () => first.length);
  return `${input.tag}:${second}`;
});

const parked = defineWorkflow('batch-parked', async (ctx) => {
  await ctx.step('before', () => 'x');
  await ctx.sleep('1h');
  return 'woke';
});

/** Opened by the test: every run of 'batch-held' waits for it inside its first step. */
let releaseHeld: () => void = () => {};
let held = new Promise<void>((resolve) => (releaseHeld = resolve));
let holding = 0;

const heldStep = defineWorkflow('batch-held', async (ctx) => {
  await ctx.step('hold', async () => {
    holding++;
    await held;
  });
  return ctx.step('after', () => 'done');
});

/** Opened by the test: every first run of 'batch-continued' waits for it inside its step. */
let releaseContinue: () => void = () => {};
let continueGate = new Promise<void>((resolve) => (releaseContinue = resolve));
let continuing = 0;

const continued = defineWorkflow('batch-continued', async (ctx, input: { round: number }) => {
  await ctx.step('work', async () => {
    if (input.round > 0) return;
    continuing++;
    await continueGate;
  });
  if (input.round === 0) return ctx.continueAsNew({ round: 1 });
  return 'continued';
});

/** The worker's requests to the engine, as sent: command type and size. */
interface Sent {
  readonly type: string;
  readonly bytes: number;
  readonly appends: number;
  /** Appends that extend only a job's start (seq 1). */
  readonly firsts: number;
  /** Appends that continue their job as a new one. */
  readonly continues: number;
}

/** `transport` with every request recorded in `sent`. */
function recording(transport: Transport, sent: Sent[]): Transport {
  return new Proxy(transport, {
    get(target, key) {
      if (key === 'request') {
        return (subject: string, payload: Uint8Array, options?: object) => {
          const command = decode(payload) as EngineCommand;
          const carried = command.type === 'AppendBatch' ? command.appends : command.type === 'AppendEvents' ? [command] : [];
          const firsts = carried.filter((append) => append.expectedSeq <= 1).length;
          const continues = carried.filter((append) => append.events.at(-1)?.type === 'JobContinued').length;
          sent.push({ type: command.type, bytes: payload.byteLength, appends: carried.length, firsts, continues });
          return target.request(subject, payload, options);
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe.each(STACK_KINDS)('append batches on %s', (kind) => {
  let stack: Stack;
  const sent: Sent[] = [];
  beforeAll(async () => {
    stack = await startStack(kind, { maxPayloadBytes: 20_000 });
    await stack.startWorker([tenSteps, bulky, parked, continued] as never, {
      transport: recording(stack.transport, sent),
      concurrency: 50,
    });
  });
  afterAll(() => stack.close());

  it('sends the appends its jobs make in one turn as one message, and each job gets its own log', async () => {
    sent.length = 0;
    const jobs = await Promise.all(Array.from({ length: 20 }, () => stack.client.start(tenSteps, {})));
    await expect(Promise.all(jobs.map((job) => job.result({ timeout: '20s' })))).resolves.toEqual(jobs.map(() => 45));
    const appendMessages = sent.filter((s) => s.appends > 0);
    const appends = appendMessages.reduce((sum, s) => sum + s.appends, 0);
    // 11 appends a job: the first start, nine completion + start pairs, the last completion with the job's end.
    expect(appends).toBe(20 * 11);
    expect(appendMessages.some((s) => s.type === 'AppendBatch')).toBe(true);
    expect(appendMessages.length).toBeLessThan(appends);
    // A job's first append, which another engine may have to look for, goes alone: 20 of them.
    expect(appendMessages.filter((s) => s.type === 'AppendBatch' && s.firsts > 0)).toEqual([]);
    expect(appendMessages.reduce((sum, s) => sum + s.firsts, 0)).toBe(20);
    for (const job of jobs) {
      const types = (await stack.store.read(job.jobId)).map((e) => e.event.type);
      expect(types).toEqual([
        'JobStarted',
        'StepStarted',
        ...Array.from({ length: 9 }, () => ['StepCompleted', 'StepStarted']).flat(),
        'StepCompleted',
        'JobCompleted',
      ]);
    }
  });

  it("sends an append that continues its job as a new one alone, since its answer waits for the successor's start and task", async () => {
    continueGate = new Promise<void>((resolve) => (releaseContinue = resolve));
    continuing = 0;
    const jobs = await Promise.all(Array.from({ length: 10 }, () => stack.client.start(continued, { round: 0 })));
    await expect.poll(() => continuing, { timeout: 10_000 }).toBe(10);
    sent.length = 0;
    // The steps end in one turn: their completions and the jobs' continuations are appended together.
    releaseContinue();
    await expect(Promise.all(jobs.map((job) => job.result({ timeout: '20s' })))).resolves.toEqual(jobs.map(() => 'continued'));
    expect(sent.reduce((sum, s) => sum + s.continues, 0)).toBe(10);
    expect(sent.filter((s) => s.type === 'AppendBatch' && s.continues > 0)).toEqual([]);
  });

  it('sends the appends of a batch too large for the engine one by one, losing none', async () => {
    sent.length = 0;
    const tags = Array.from({ length: 8 }, (_, i) => `job${i}`);
    const jobs = await Promise.all(tags.map((tag) => stack.client.start(bulky, { tag })));
    await expect(Promise.all(jobs.map((job) => job.result({ timeout: '20s' })))).resolves.toEqual(tags.map((tag) => `${tag}:6005`));
    // At least one batch outgrew the engine's 20,000 bytes and was refused as a whole.
    expect(sent.some((s) => s.type === 'AppendBatch' && s.bytes > 20_000)).toBe(true);
    for (const [i, job] of jobs.entries()) {
      const completed = (await stack.store.read(job.jobId)).filter((e) => e.event.type === 'StepCompleted');
      expect(completed.map((e) => (e.event as { output: unknown }).output)).toEqual([`job${i}:${'x'.repeat(6000)}`, 6005]);
    }
  });

  /** Two jobs parked on their sleep, both taken over by the test as a worker would after a redelivery. */
  const twoClaimedJobs = async () => {
    const engine = new EngineClient({ transport: stack.transport, subjects: subjectsFor(stack.prefix) });
    const [a, b] = await Promise.all([stack.client.start(parked, {}), stack.client.start(parked, {})]);
    for (const job of [a, b]) {
      await expect.poll(async () => (await stack.store.read(job.jobId)).at(-1)?.event.type, { timeout: 10_000 }).toBe('TimerStarted');
    }
    const claim = async (jobId: string) => {
      const { epoch } = await stack.client.describe(jobId);
      return { before: epoch, ...(await engine.send({ type: 'ClaimJob', jobId, epoch, worker: 'test' })) };
    };
    return { engine, a, b, claimA: await claim(a.jobId), claimB: await claim(b.jobId) };
  };

  it('carries out each append of a batch on its own: a stale or malformed one fails alone', async () => {
    const { engine, a, b, claimA, claimB } = await twoClaimedJobs();
    const completed = { type: 'JobCompleted', output: 'from the batch', completedAt: Date.now() } as const;
    const reply = await engine.send({
      type: 'AppendBatch',
      appends: [
        { type: 'AppendEvents', jobId: a.jobId, expectedSeq: claimA.lastSeq, epoch: claimA.epoch, events: [completed] },
        { type: 'AppendEvents', jobId: b.jobId, expectedSeq: claimB.lastSeq, epoch: claimB.before, events: [completed] },
        { type: 'AppendEvents', jobId: b.jobId, expectedSeq: claimB.lastSeq, epoch: claimB.epoch } as never,
        { type: 'GetJob', jobId: b.jobId } as never,
      ],
    });
    expect(reply.results).toEqual([
      { ok: true, value: { lastSeq: claimA.lastSeq + 1, engine: expect.any(String) } },
      { ok: false, error: { name: 'StaleEpochError', message: expect.stringContaining(`moved on to epoch ${claimB.epoch}`) } },
      { ok: false, error: { name: 'InvalidMessageError', message: expect.stringContaining('missing events') } },
      { ok: false, error: { name: 'InvalidMessageError', message: 'an AppendBatch holds only AppendEvents, not GetJob' } },
    ]);
    await expect(a.result({ timeout: '5s' })).resolves.toBe('from the batch');
    expect(await b.status()).toMatchObject({ status: 'running', lastSeq: claimB.lastSeq, epoch: claimB.epoch });
  });

  it("carries out two appends of one job in a batch in the batch's order, as if sent one after the other", async () => {
    // A worker sends a job's next append only once the last is answered, so it never does this;
    // a batch that does is still answered as the same appends sent one by one would be.
    const { engine, a, b, claimA, claimB } = await twoClaimedJobs();
    // Position 2 follows the step (0) and the sleep (1).
    const value = { type: 'ValueRecorded', position: 2, kind: 'random', value: 0.5 } as const;
    const completed = { type: 'JobCompleted', output: 'two in one', completedAt: Date.now() } as const;
    const append = (jobId: string, epoch: number, expectedSeq: number, event: typeof value | typeof completed) =>
      ({ type: 'AppendEvents', jobId, expectedSeq, epoch, events: [event] }) as const;
    const reply = await engine.send({
      type: 'AppendBatch',
      appends: [
        append(a.jobId, claimA.epoch, claimA.lastSeq, value),
        append(a.jobId, claimA.epoch, claimA.lastSeq + 1, completed),
        // The other way round, the second is carried out first: the first is then behind the log.
        append(b.jobId, claimB.epoch, claimB.lastSeq + 1, completed),
        append(b.jobId, claimB.epoch, claimB.lastSeq, value),
      ],
    });
    expect(reply.results).toEqual([
      { ok: true, value: { lastSeq: claimA.lastSeq + 1, engine: expect.any(String) } },
      { ok: true, value: { lastSeq: claimA.lastSeq + 2, engine: expect.any(String) } },
      { ok: false, error: { name: 'SeqConflictError', message: `job ${b.jobId} is at seq ${claimB.lastSeq}, not ${claimB.lastSeq + 1}` } },
      { ok: true, value: { lastSeq: claimB.lastSeq + 1, engine: expect.any(String) } },
    ]);
    await expect(a.result({ timeout: '5s' })).resolves.toBe('two in one');
    expect((await stack.store.read(b.jobId)).at(-1)?.event).toEqual(value);
  });
});

describe.each(STACK_KINDS)('append batches whose reply is too large on %s', (kind) => {
  let stack: Stack;
  const sent: Sent[] = [];
  beforeAll(async () => {
    // The engine's default limits: a job's signals of 200 KB are taken, and one append's reply carries three.
    stack = await startStack(kind);
    await stack.startWorker([heldStep] as never, { transport: recording(stack.transport, sent), concurrency: 10 });
  });
  afterAll(() => stack.close());

  it("loses no job when a batch committed but its reply, carrying the jobs' signals, outgrew the transport", async () => {
    held = new Promise<void>((resolve) => (releaseHeld = resolve));
    holding = 0;
    const jobs = await Promise.all([stack.client.start(heldStep, {}), stack.client.start(heldStep, {})]);
    await expect.poll(() => holding, { timeout: 10_000 }).toBe(2);
    // Each job gets three signals of 200 KB while its step runs: the append after the step goes
    // around them and its reply hands them over. One job's reply holds 600 KB; a batch's, both
    // jobs', over the 1 MiB a message may carry.
    const big = 'x'.repeat(200_000);
    for (const job of jobs) for (let i = 0; i < 3; i++) await stack.client.signal(job.jobId, 'note', big);
    const signals = async (jobId: string) => (await stack.store.read(jobId)).filter((e) => e.event.type === 'SignalReceived').length;
    for (const job of jobs) await expect.poll(() => signals(job.jobId), { timeout: 10_000 }).toBe(3);
    sent.length = 0;
    releaseHeld();
    await expect(Promise.all(jobs.map((job) => job.result({ timeout: '20s' })))).resolves.toEqual(['done', 'done']);
    // The two appends after the step went as one batch (so its reply was the one too large).
    expect(sent.some((s) => s.type === 'AppendBatch' && s.appends === 2)).toBe(true);
    for (const job of jobs) {
      const types = (await stack.store.read(job.jobId)).map((e) => e.event.type);
      expect(types.filter((type) => type === 'SignalReceived')).toHaveLength(3);
      expect(types.filter((type) => type === 'StepCompleted')).toHaveLength(2);
      expect(types.at(-1)).toBe('JobCompleted');
    }
  }, 40_000);
});
