import type { JobState } from '@ratchet/protocol';

/** The folded state of recently active jobs, least recently used evicted first. */
export class JobCache {
  readonly #capacity: number;
  readonly #states = new Map<string, JobState>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get(jobId: string): JobState | undefined {
    const state = this.#states.get(jobId);
    if (state) {
      // Re-insert to mark as most recently used (Map keeps insertion order).
      this.#states.delete(jobId);
      this.#states.set(jobId, state);
    }
    return state;
  }

  set(jobId: string, state: JobState): void {
    this.#states.delete(jobId);
    this.#states.set(jobId, state);
    if (this.#states.size > this.#capacity) {
      const oldest = this.#states.keys().next().value;
      if (oldest !== undefined) this.#states.delete(oldest);
    }
  }

  delete(jobId: string): void {
    this.#states.delete(jobId);
  }
}
