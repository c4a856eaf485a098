import type { AppendEvents, AppendEventsReply, JobEvent, RecordedEvent } from '@ratchet/protocol';

export interface AppendQueueOptions {
  /**
   * Sends one append to the engine (alone, or batched with other jobs'): to the engine `engine`
   * names when given, the one that carried out the run's last append.
   */
  readonly send: (command: AppendEvents, engine: string | undefined) => Promise<AppendEventsReply>;
  readonly jobId: string;
  /** The epoch the run holds: the engine refuses appends from any other. */
  readonly epoch: number;
  /** The job's last seq when the run began. */
  readonly lastSeq: number;
  readonly clock: () => number;
  /** Resolves at the next turn of the event loop. */
  readonly nextTurn: () => Promise<void>;
  /** Takes in inbox events an append reply handed over (the engine appended around them). */
  readonly receive: (inbox: readonly RecordedEvent[]) => void;
  /** Told of an append that failed: the run cannot go on. */
  readonly abort: (error: unknown) => void;
}

/**
 * The events a run queued for the job's log. They are appended together at the next macrotask,
 * so a step's completion and the next step's start travel in one append.
 */
export class AppendQueue {
  readonly #o: AppendQueueOptions;
  readonly #queue: JobEvent[] = [];
  readonly #appended: RecordedEvent[] = [];
  #seq: number;
  /** The engine that carried out the last append: its cache holds the job as the log does. */
  #engine: string | undefined;
  #pushed = 0;
  #committed = 0;
  #syncing: Promise<void> | undefined;
  #abortError: unknown;

  constructor(options: AppendQueueOptions) {
    this.#o = options;
    this.#seq = options.lastSeq;
  }

  /** The job's last seq as the run knows it. */
  get seq(): number {
    return this.#seq;
  }

  /** What the run appended, as recorded (commit times as seen here): the run's end state is the log plus these. */
  get appended(): readonly RecordedEvent[] {
    return this.#appended;
  }

  /** Events queued and not yet sent. */
  get pending(): number {
    return this.#queue.length;
  }

  push(...events: JobEvent[]): void {
    this.#queue.push(...events);
    this.#pushed += events.length;
  }

  /** Takes inbox events the run read from the log's tail itself: the log goes on with them. */
  record(inbox: readonly RecordedEvent[]): void {
    this.#appended.push(...inbox);
    this.#seq = (inbox.at(-1) as RecordedEvent).seq;
  }

  /** Refuses every append from now on with `error`: the run was aborted. */
  close(error: unknown): void {
    this.#abortError = error;
  }

  /** Resolves when every event queued so far is in the log. */
  sync(): Promise<void> {
    if (this.#abortError !== undefined) return Promise.reject(this.#abortError);
    const target = this.#pushed;
    if (this.#committed >= target) return Promise.resolve();
    this.#syncing ??= this.#drain();
    return this.#syncing.then(() => (this.#committed >= target ? undefined : this.sync()));
  }

  async #drain(): Promise<void> {
    try {
      // One macrotask of grace: the workflow's continuation queues its next events into this append.
      await this.#o.nextTurn();
      while (this.#queue.length > 0) {
        if (this.#abortError !== undefined) throw this.#abortError;
        const events = this.#queue.splice(0);
        const reply = await this.#o.send(
          { type: 'AppendEvents', jobId: this.#o.jobId, expectedSeq: this.#seq, epoch: this.#o.epoch, events },
          this.#engine,
        );
        this.#engine = reply.engine;
        const committedAt = this.#o.clock();
        if (reply.inbox) this.#appended.push(...reply.inbox);
        const first = reply.lastSeq - events.length + 1;
        for (let i = 0; i < events.length; i++) {
          const event = events[i] as JobEvent;
          // Recorded as the engine wrote it: a continuation names its successor there, and the
          // run's end state (folded from these) would otherwise be one the fold refuses.
          const recorded = event.type === 'JobContinued' && reply.continuedAs ? { ...event, nextJobId: reply.continuedAs } : event;
          this.#appended.push({ seq: first + i, recordedAt: committedAt, event: recorded });
        }
        this.#seq = reply.lastSeq;
        this.#committed += events.length;
        if (reply.inbox) this.#o.receive(reply.inbox);
      }
    } catch (error) {
      this.#o.abort(error);
      throw error;
    } finally {
      this.#syncing = undefined;
    }
  }
}
