import type { AppendRequest, AppendResult, EventStore } from '@ratchet/store';

/**
 * How long without a commit counts as quiet. Under load the next append follows the end of a
 * commit within microseconds; a lone job's next step comes a round trip later (~0.1 ms).
 */
const QUIET_MS = 0.05;

interface Pending {
  readonly request: AppendRequest;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit: appends from many jobs that arrive while a transaction is in flight wait and
 * go together in the next one. Under load a commit carries many steps; alone, an append waits
 * for nothing. No timer, no fixed batch interval.
 */
export class GroupCommit {
  readonly #store: EventStore;
  readonly #maxBatch: number;
  #queue: Pending[] = [];
  #committing: Promise<void> | undefined;
  #lastCommitEnd = 0;
  /** Appends the last transaction carried: one means a lone job is stepping. */
  #lastBatchSize = 0;

  constructor(store: EventStore, maxBatch: number) {
    this.#store = store;
    this.#maxBatch = maxBatch;
  }

  submit(request: AppendRequest): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      this.#committing ??= this.#drain();
    });
  }

  /** Resolves when nothing is queued or committing. */
  async idle(): Promise<void> {
    while (this.#committing) await this.#committing;
  }

  async #oneByOne(batch: readonly Pending[]): Promise<void> {
    for (const pending of batch) {
      try {
        const [result] = await this.#store.append([pending.request]);
        pending.resolve(result as AppendResult);
      } catch (error) {
        pending.reject(error);
      }
    }
  }

  async #drain(): Promise<void> {
    try {
      // After a quiet spell, or a transaction of one append (one job stepping on its own, say:
      // its next append waited for that commit), an append is most likely alone.
      const alone = performance.now() - this.#lastCommitEnd > QUIET_MS || this.#lastBatchSize === 1;
      for (let first = true; this.#queue.length > 0; first = false) {
        // One macrotask of grace lets appends already on their way (replies being handled,
        // in-process workers) join this transaction instead of waiting for the next — except for
        // the first of an append most likely alone: nothing is on its way, and the wait is pure
        // latency.
        if (!(first && alone)) await new Promise((resolve) => setImmediate(resolve));
        const batch = this.#queue.splice(0, this.#maxBatch);
        this.#lastBatchSize = batch.length;
        try {
          const results = await this.#store.append(batch.map((p) => p.request));
          for (let i = 0; i < batch.length; i++) (batch[i] as Pending).resolve(results[i] as AppendResult);
        } catch (error) {
          if (batch.length === 1) (batch[0] as Pending).reject(error);
          // One request can fail a whole transaction (a value the database refuses): commit each
          // on its own, so only the one at fault fails.
          else await this.#oneByOne(batch);
        }
      }
    } finally {
      this.#lastCommitEnd = performance.now();
      this.#committing = undefined;
    }
  }
}
