import type { BreakerEvent, JobState } from '@ratchet/protocol';
import type { AppendRequest, EventStore } from '@ratchet/store';
import type { Activity } from './activity.ts';

/** An {@link EventStore} whose calls count as work in progress (the environment is not idle while one runs). */
export class TrackedStore implements EventStore {
  readonly #store: EventStore;
  readonly #activity: Activity;

  constructor(options: { readonly store: EventStore; readonly activity: Activity }) {
    this.#store = options.store;
    this.#activity = options.activity;
  }

  migrate() {
    return this.#activity.track(() => this.#store.migrate());
  }

  append(requests: readonly AppendRequest[]) {
    return this.#activity.track(() => this.#store.append(requests));
  }

  read(jobId: string, afterSeq?: number, limit?: number) {
    return this.#activity.track(() => this.#store.read(jobId, afterSeq, limit));
  }

  readLatest(jobId: string) {
    return this.#activity.track(() => this.#store.readLatest(jobId));
  }

  writeSnapshot(state: JobState) {
    return this.#activity.track(() => this.#store.writeSnapshot(state));
  }

  getJob(jobId: string) {
    return this.#activity.track(() => this.#store.getJob(jobId));
  }

  claimDueTimers(now: number, limit: number, leaseMs: number) {
    return this.#activity.track(() => this.#store.claimDueTimers(now, limit, leaseMs));
  }

  nextTimerAt() {
    return this.#activity.track(() => this.#store.nextTimerAt());
  }

  listRunnableJobs(limit: number) {
    return this.#activity.track(() => this.#store.listRunnableJobs(limit));
  }

  listJobs(query: Parameters<EventStore['listJobs']>[0]) {
    return this.#activity.track(() => this.#store.listJobs(query));
  }

  listJobIds(options: Parameters<EventStore['listJobIds']>[0]) {
    return this.#activity.track(() => this.#store.listJobIds(options));
  }

  appendBreakerEvents(name: string, events: readonly BreakerEvent[], recordedAt: number) {
    return this.#activity.track(() => this.#store.appendBreakerEvents(name, events, recordedAt));
  }

  readBreakerEvents() {
    return this.#activity.track(() => this.#store.readBreakerEvents());
  }

  close() {
    return this.#store.close();
  }
}
