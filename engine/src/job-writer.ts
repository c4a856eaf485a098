import {
  decode,
  emptyJobState,
  foldEvents,
  IllegalTransitionError,
  type JobEvent,
  type JobState,
  type JobSummary,
  jobRowOf,
  type RecordedEvent,
  type TimerState,
} from '@ratchet/protocol';
import type { EncodedEvent, EventStore } from '@ratchet/store';
import type { GroupCommit } from './group-commit.ts';
import { JobCache } from './job-cache.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import { Refusal } from './refusal.ts';
import type { SnapshotTaker } from './snapshot-taker.ts';

/** What an append changed: the state before and after, and the events as recorded. */
export interface Written {
  readonly before: JobState;
  readonly after: JobState;
  readonly events: readonly JobEvent[];
}

/**
 * The one path into the log. Per job, one write at a time: fold the cached state, let the
 * caller decide the events (and refuse by throwing), fold them (an illegal transition is
 * refused before anything is written), and hand the append to the group commit.
 */
export class JobWriter {
  readonly #store: EventStore;
  readonly #commit: GroupCommit;
  readonly #cache: JobCache;
  readonly #clock: () => number;
  readonly #snapshots: SnapshotTaker;
  readonly #locks = new KeyedMutex();
  /** Folds of a prefix of a long log, left by a page of `history` for the next page to go on from. */
  readonly #pages = new JobCache(64);

  constructor(options: { store: EventStore; commit: GroupCommit; cache: JobCache; clock: () => number; snapshots: SnapshotTaker }) {
    this.#store = options.store;
    this.#commit = options.commit;
    this.#cache = options.cache;
    this.#clock = options.clock;
    this.#snapshots = options.snapshots;
  }

  /**
   * Appends the events `decide` returns for the job's current state. Another engine may have
   * written meanwhile: then the state is reloaded and `decide` asked once more.
   */
  write(
    jobId: string,
    decide: (state: JobState) => readonly JobEvent[],
    options: {
      readonly assumeNew?: boolean;
      /**
       * Told of the append just before it is committed (the job's lock is held until the commit
       * ends, so nothing else reads or writes the job meanwhile); it may be told again if the
       * append conflicts and is decided once more.
       */
      readonly beforeCommit?: (pending: Written) => void;
    } = {},
  ): Promise<Written> {
    return this.#locks.run(jobId, async () => {
      for (let tries = 0; ; tries++) {
        const cached = this.#cache.get(jobId);
        // A job id the engine just made up cannot exist: skip the read. (Were it to exist, the
        // append would conflict, and the next try reads the log.)
        const guess = tries === 0 && !cached && options.assumeNew === true;
        const fresh = tries > 0 || !cached;
        const before = guess ? emptyJobState(jobId) : await this.#load(jobId, fresh);
        let events: readonly JobEvent[];
        let after: JobState;
        const recordedAt = this.#clock();
        try {
          events = decide(before);
          if (events.length === 0) {
            // Nothing to do, judged on the cache, which another engine may have moved past (a
            // timer it started, which this engine claimed): judge again on the log.
            if (!fresh && !guess) continue;
            return { before, after: before, events };
          }
          const recorded: RecordedEvent[] = events.map((event, i) => ({ seq: before.lastSeq + i + 1, recordedAt, event }));
          after = foldEvents(jobId, recorded, before);
        } catch (error) {
          // Judged on the cache, which another engine may have moved past: judge again on the log.
          if ((!fresh || guess) && (error instanceof Refusal || error instanceof IllegalTransitionError)) continue;
          throw error;
        }
        options.beforeCommit?.({ before, after, events });
        const result = await this.#commit.submit({
          jobId,
          expectedSeq: before.lastSeq,
          events,
          recordedAt,
          job: jobRowOf(after),
          timers: timerChanges(before.timers, after.timers),
        });
        if (result.ok) {
          this.#cache.set(jobId, after);
          this.#snapshots.committed(before, after);
          return { before, after, events };
        }
        this.#cache.delete(jobId);
        if (tries > 0) throw new Refusal('SeqConflictError', `job ${jobId} was written concurrently; try again`);
      }
    });
  }

  /**
   * Appends what `decide` returns for `jobId` — ending it — together with the start of a new
   * job `successorId` in one transaction: the successor exists exactly when the ending is in the
   * log. (A successor id is made up fresh, so only the ending can conflict.) `start` gives the
   * successor's first events, its `JobStarted` first.
   */
  writeWithSuccessor(
    jobId: string,
    decide: (state: JobState) => readonly JobEvent[],
    successorId: string,
    start: (ended: JobState) => readonly JobEvent[],
  ): Promise<{ ended: Written; successor: Written }> {
    return this.#locks.run(jobId, () =>
      this.#locks.run(successorId, async () => {
        for (let tries = 0; ; tries++) {
          const before = await this.#load(jobId, tries > 0 || !this.#cache.get(jobId));
          const recordedAt = this.#clock();
          const events = decide(before);
          const after = foldEvents(
            jobId,
            events.map((event, i) => ({ seq: before.lastSeq + i + 1, recordedAt, event })),
            before,
          );
          const empty = emptyJobState(successorId);
          const first = start(after);
          const successor = foldEvents(
            successorId,
            first.map((event, i) => ({ seq: i + 1, recordedAt, event })),
          );
          const noTimers = (from: JobState, to: JobState) => timerChanges(from.timers, to.timers);
          const [endResult, startResult] = await this.#store.append([
            { jobId, expectedSeq: before.lastSeq, events, recordedAt, job: jobRowOf(after), timers: noTimers(before, after) },
            {
              jobId: successorId,
              expectedSeq: 0,
              events: first,
              recordedAt,
              job: jobRowOf(successor),
              timers: noTimers(empty, successor),
              requires: jobId,
            },
          ]);
          if (endResult?.ok && startResult?.ok) {
            this.#cache.set(jobId, after);
            this.#cache.set(successorId, successor);
            this.#snapshots.committed(before, after);
            return { ended: { before, after, events }, successor: { before: empty, after: successor, events: first } };
          }
          this.#cache.delete(jobId);
          if (tries > 0 || endResult?.ok) throw new Refusal('SeqConflictError', `job ${jobId} was written concurrently; try again`);
        }
      }),
    );
  }

  /**
   * The job's current state: the cached fold brought up to date with the log's tail, so reads
   * are exact even when other engines write.
   */
  read(jobId: string): Promise<JobState> {
    return this.#locks.run(jobId, () => this.#load(jobId, true));
  }

  /**
   * The job's state and its events after `afterSeq` — at most `limit` of them — from one read
   * of the log: the events the cache lacks are read along with those asked for. `complete` says
   * the read reached the end of the log, so `state` is the job's current state (otherwise it is
   * the fold up to the last event read, and more events follow). Reading a long log page by page
   * reads each event once: a page's fold is kept for the next.
   */
  async history(
    jobId: string,
    afterSeq: number,
    limit?: number,
  ): Promise<{ state: JobState; events: readonly RecordedEvent[]; complete: boolean }> {
    const page = await this.encodedHistory(jobId, afterSeq, limit);
    return { ...page, events: decodeEvents(page.events) };
  }

  /**
   * {@link history} with the events as the log stores them, for a reply that passes them on:
   * only those the fold needs (the ones the cache lacks) are decoded.
   */
  encodedHistory(
    jobId: string,
    afterSeq: number,
    limit?: number,
  ): Promise<{ state: JobState; events: readonly EncodedEvent[]; complete: boolean }> {
    return this.#locks.run(jobId, async () => {
      // The fold to go on from: the job's state, or the prefix a previous page of a long history
      // left behind (kept apart, so that no write ever judges on a prefix of the log).
      const cached = this.#cache.get(jobId) ?? this.#pages.get(jobId);
      const from = cached ? Math.min(afterSeq, cached.lastSeq) : 0;
      const want = limit === undefined ? undefined : afterSeq - from + limit;
      // One event more than asked for says whether the log goes on.
      const all = await this.#store.readEncoded(jobId, from, want === undefined ? undefined : want + 1);
      const complete = want === undefined || all.length <= want;
      const read = complete ? all : all.slice(0, want);
      const known = cached?.lastSeq ?? 0;
      const state = foldEvents(jobId, decodeEvents(from === known ? read : read.filter((e) => e.seq > known)), cached);
      if (state.status !== 'new' && complete) {
        this.#cache.set(jobId, state);
        this.#pages.delete(jobId);
      } else if (state.status !== 'new') {
        this.#pages.set(jobId, state);
      }
      return { state, events: from === afterSeq ? read : read.filter((e) => e.seq > afterSeq), complete };
    });
  }

  async #load(jobId: string, fresh: boolean): Promise<JobState> {
    const cached = this.#cache.get(jobId);
    if (cached && !fresh) return cached;
    let state: JobState;
    if (cached) {
      const tail = await this.#store.read(jobId, cached.lastSeq);
      if (tail.length === 0) return cached;
      state = foldEvents(jobId, tail, cached);
    } else {
      const { snapshot, events } = await this.#store.readLatest(jobId);
      state = foldEvents(jobId, events, snapshot);
    }
    if (state.status !== 'new') this.#cache.set(jobId, state);
    return state;
  }
}

/** What the outside sees of a job. */
export function summarize(state: JobState): JobSummary {
  return {
    ...jobRowOf(state),
    ...(state.continuedAs === undefined ? {} : { continuedAs: state.continuedAs }),
    ...(state.output === undefined ? {} : { output: state.output }),
    ...(state.failure === undefined ? {} : { failure: state.failure }),
  };
}

function timerChanges(
  before: Readonly<Record<string, TimerState>>,
  after: Readonly<Record<string, TimerState>>,
): { added: TimerState[]; removed: string[] } {
  const added = Object.values(after).filter((timer) => before[timer.timerId] === undefined);
  const removed = Object.keys(before).filter((timerId) => after[timerId] === undefined);
  return { added, removed };
}

function decodeEvents(events: readonly EncodedEvent[]): RecordedEvent[] {
  return events.map((e) => ({ seq: e.seq, recordedAt: e.recordedAt, event: decode(e.data) as JobEvent }));
}
