import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyJobState, foldEvents, type JobEvent, type JobState, jobRowOf } from '@ratchet/protocol';
import { type AppendRequest, type EventStore, PgliteEventStore, PostgresEventStore } from '@ratchet/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestDatabase, testDatabase } from '../harness/index.ts';

/** A request appending `events` to `state`, as the engine builds it. */
function request(state: JobState, events: JobEvent[], requires?: string): AppendRequest {
  const after = foldEvents(
    state.jobId,
    events.map((event, i) => ({ seq: state.lastSeq + i + 1, recordedAt: 1000, event })),
    state,
  );
  return {
    jobId: state.jobId,
    expectedSeq: state.lastSeq,
    events,
    recordedAt: 1000,
    job: jobRowOf(after),
    timers: { added: [], removed: [] },
    ...(requires ? { requires } : {}),
  };
}
const started = (workflow: string): JobEvent => ({ type: 'JobStarted', workflow, version: '1', input: null, epoch: 1, startedAt: 1000 });
const completed: JobEvent = { type: 'JobCompleted', output: 'x', completedAt: 1000 };

describe.each(['postgres', 'pglite'] as const)('a creation that depends on another append in its batch (%s)', (kind) => {
  let store: EventStore;
  let database: TestDatabase | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    if (kind === 'postgres') {
      database = await testDatabase();
      store = new PostgresEventStore({ url: database.url });
    } else {
      dir = await mkdtemp(join(tmpdir(), 'ratchet-dep-'));
      store = new PgliteEventStore({ dataDir: dir });
    }
    await store.migrate();
  });
  afterAll(async () => {
    await store.close();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates the job with the append it requires, and not without it', async () => {
    const [created] = await store.append([request(emptyJobState('first'), [started('w')])]);
    expect(created?.ok).toBe(true);
    const first = foldEvents('first', await store.read('first'));
    // The predecessor wins: both are written.
    expect(await store.append([request(first, [completed]), request(emptyJobState('second'), [started('w')], 'first')])).toEqual([
      { jobId: 'first', ok: true },
      { jobId: 'second', ok: true },
    ]);
    // The predecessor's append is stale: neither is written.
    expect(await store.append([request(first, [completed]), request(emptyJobState('third'), [started('w')], 'first')])).toEqual([
      { jobId: 'first', ok: false, reason: 'conflict' },
      { jobId: 'third', ok: false, reason: 'conflict' },
    ]);
    expect(await store.read('third')).toEqual([]);
    expect(await store.getJob('third')).toBeUndefined();
  });

  it("holds a chain of appends to the new job to the creation's requirement, with or without the required append in the batch", async () => {
    const created = request(emptyJobState('anchor'), [started('w')]);
    const anchor = foldEvents('anchor', [{ seq: 1, recordedAt: 1000, event: started('w') }]);
    expect(await store.append([created, request(anchor, [completed])])).toEqual([
      { jobId: 'anchor', ok: true },
      { jobId: 'anchor', ok: true },
    ]);
    const fourth = request(emptyJobState('fourth'), [started('w')], 'anchor');
    const fourthOn = request(foldEvents('fourth', [{ seq: 1, recordedAt: 1000, event: started('w') }]), [completed]);
    // The required append is stale: the creation and the append chained to it lose.
    expect(await store.append([request(anchor, [completed]), fourth, fourthOn])).toEqual([
      { jobId: 'anchor', ok: false, reason: 'conflict' },
      { jobId: 'fourth', ok: false, reason: 'conflict' },
      { jobId: 'fourth', ok: false, reason: 'conflict' },
    ]);
    // The required append is not in the batch at all: it did not win either.
    expect(await store.append([fourth, fourthOn])).toEqual([
      { jobId: 'fourth', ok: false, reason: 'conflict' },
      { jobId: 'fourth', ok: false, reason: 'conflict' },
    ]);
    expect(await store.read('fourth')).toEqual([]);
    expect(await store.getJob('fourth')).toBeUndefined();
  });
});
