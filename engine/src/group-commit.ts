import { encode } from '@ratchet/protocol';
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

  /**
   * The appends of a transaction that failed, each on its own, so that only one the database
   * refuses fails. Whether one committed is unknown when the connection broke during the commit
   * (the commit may have landed and only its answer been lost), so the log is looked at first:
   * an append found there as it was sent succeeded. Sent again, it would conflict with itself,
   * and its worker would take that for another holding the job and let the job go.
   */
  async #oneByOne(batch: readonly Pending[]): Promise<void> {
    for (const { request, resolve, reject } of batch) {
      try {
        if (await this.#landed(request)) resolve({ jobId: request.jobId, ok: true });
        else resolve((await this.#store.append([request]))[0] as AppendResult);
      } catch (error) {
        reject(error);
      }
    }
  }

  /** True when the log holds `request`'s events right after its expected seq, as it wrote them. */
  async #landed(request: AppendRequest): Promise<boolean> {
    const { jobId, expectedSeq, events, recordedAt } = request;
    const found = await this.#store.readEncoded(jobId, expectedSeq, events.length);
    return (
      found.length === events.length &&
      found.every(
        (stored, i) =>
          stored.seq === expectedSeq + i + 1 &&
          Math.abs(stored.recordedAt - recordedAt) < 1 &&
          Buffer.from(stored.data).equals(encode(events[i])),
      )
    );
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
        } catch {
          // One request can fail a whole transaction (a value the database refuses), and a broken
          // connection fails it with its outcome unknown: settle each on its own.
          await this.#oneByOne(batch);
        }
      }
    } finally {
      this.#lastCommitEnd = performance.now();
      this.#committing = undefined;
    }
  }
}
