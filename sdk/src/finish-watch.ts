import { decode, type JobSummary, type Subjects } from '@ratchet/protocol';
import type { Subscription, Transport } from './transport/index.ts';

/**
 * Listens for one job's finished notice. Set up before the job is even started, it lets
 * `result()` wait without asking the engine first; it lets go of its subscription on the notice,
 * when closed, or after `ttlMs` when nobody waited for the job.
 */
export class FinishWatch {
  readonly finished: Promise<JobSummary>;
  #resolve!: (job: JobSummary) => void;
  readonly #subscription: Subscription;
  readonly #expiry: NodeJS.Timeout;

  constructor(transport: Transport, subjects: Subjects, jobId: string, ttlMs = 10 * 60_000) {
    this.finished = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    this.#subscription = transport.subscribe(subjects.finished(jobId), (payload) => this.settle(decode(payload) as JobSummary));
    this.#expiry = setTimeout(() => this.close(), ttlMs);
    this.#expiry.unref();
  }

  /** Ends the wait with `job` (from the notice, or learned some other way). */
  settle(job: JobSummary): void {
    this.#resolve(job);
    this.close();
  }

  close(): void {
    clearTimeout(this.#expiry);
    this.#subscription.unsubscribe();
  }
}
