import type { JobState } from '@ratchet/protocol';
import type { EventStore } from '@ratchet/store';
import type { Logger } from 'pino';

/**
 * Stores a job's folded state each time its log passes another `every` events, so loading a
 * long job (an engine with a cold cache, a worker that never ran it) reads a snapshot and a
 * short tail instead of the whole log. A snapshot is a cache of the fold, written after the
 * commit and off the append path: losing one costs a longer read, never a wrong state.
 */
export class SnapshotTaker {
  readonly #store: EventStore;
  readonly #every: number;
  readonly #logger: Logger;
  /** Writes under way: the engine waits for them when it stops, before its store is closed. */
  readonly #writing = new Set<Promise<void>>();

  constructor(options: { readonly store: EventStore; readonly every: number; readonly logger: Logger }) {
    this.#store = options.store;
    this.#every = options.every;
    this.#logger = options.logger;
  }

  /** Called with each committed append's states; takes a snapshot when it crossed a multiple of `every`. */
  committed(before: JobState, after: JobState): void {
    if (Math.floor(after.lastSeq / this.#every) === Math.floor(before.lastSeq / this.#every)) return;
    const write: Promise<void> = this.#store
      .writeSnapshot(after)
      .catch((error: unknown) => {
        this.#logger.warn(
          { err: error, jobId: after.jobId, seq: after.lastSeq },
          'could not store a snapshot; the next one will be taken later',
        );
      })
      .finally(() => this.#writing.delete(write));
    this.#writing.add(write);
  }

  /** Resolves when every snapshot write begun so far has ended. */
  async drain(): Promise<void> {
    while (this.#writing.size > 0) await Promise.all(this.#writing);
  }
}
