import type { CancelRequest, JobEvent, JobState, JournalEntry, RecordedEvent, SignalState } from '@ratchet/protocol';
import { CancelledError, type SignalResult } from '@ratchet/sdk';

/** What a durable wait is for: a timer, or a signal by name. A cancellation ends either. */
export type WaitFor =
  | { readonly kind: 'sleep' }
  | { readonly kind: 'wait'; readonly name: string }
  | { readonly kind: 'child'; readonly childJobId: string };

/** A durable wait in progress. */
type Waiting = WaitFor & {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
};

export interface InboxOptions {
  /** The job's state when the run began: the signals and the cancellation in its log. */
  readonly state: JobState;
  readonly clock: () => number;
  /** Queues events for the run's next append. */
  readonly push: (...events: JobEvent[]) => void;
}

/**
 * The job's inbox as a run knows it — the log's signals and cancellation, plus what append
 * replies brought — and the durable waits (sleeps, signal waits) that what comes in can end.
 */
export class Inbox {
  readonly #o: InboxOptions;
  readonly #signals: SignalState[];
  #cancel: CancelRequest | undefined;
  /** Durable waits the run is blocked on, by position. */
  readonly #waiting = new Map<number, Waiting>();

  constructor(options: InboxOptions) {
    this.#o = options;
    this.#signals = options.state.signals.slice();
    this.#cancel = options.state.cancel;
  }

  /** The cancellation requested, if any; `deliveredAt` says where the workflow was told. */
  get cancel(): CancelRequest | undefined {
    return this.#cancel;
  }

  /** How many durable waits the run is blocked on. */
  get waits(): number {
    return this.#waiting.size;
  }

  /** True when an inbox event could end a wait: a first cancellation ends any, a signal a signal wait. */
  get listening(): boolean {
    return (this.#cancel === undefined && this.#waiting.size > 0) || [...this.#waiting.values()].some((w) => w.kind !== 'sleep');
  }

  /** The payload of a signal a wait took earlier. */
  payloadOf(signalId: string): unknown {
    return this.#signals.find((signal) => signal.signalId === signalId)?.payload;
  }

  /** Takes the oldest untaken signal named `name` for the wait at `position`, recording it. */
  takeSignal(position: number, name: string): SignalResult<unknown> | undefined {
    const index = this.#signals.findIndex((signal) => signal.name === name && signal.takenBy === undefined);
    const signal = this.#signals[index];
    if (!signal) return undefined;
    this.#signals[index] = { ...signal, takenBy: position };
    this.#o.push({ type: 'WaitEnded', position, signalId: signal.signalId, endedAt: this.#o.clock() });
    return { timedOut: false, payload: signal.payload };
  }

  /**
   * Tells the workflow of a cancellation at the call at `position`, by throwing `CancelledError`:
   * where the log says it was told, or — once — at the first durable call that is not replayed.
   */
  cancelAt(position: number, entry: JournalEntry | undefined): void {
    const cancel = this.#cancel;
    // Only a new call, a wait still open or a step waiting for its next attempt is where the
    // workflow stands; recorded calls replay.
    const frontier =
      entry === undefined ||
      (entry.kind === 'wait' && !entry.ended) ||
      (entry.kind === 'sleep' && !entry.fired) ||
      (entry.kind === 'child' && !entry.finished) ||
      (entry.kind === 'step' && (entry.status === 'retrying' || entry.status === 'blocked'));
    // A step told of it ended there (failed with it), so it replays as told.
    const toldHere = cancel?.deliveredAt === position && (frontier || entry?.kind === 'step');
    if (entry?.kind === 'cancel' || toldHere) {
      throw new CancelledError(cancel?.reason ?? 'cancelled');
    }
    if (!cancel || cancel.deliveredAt !== undefined || !frontier) return;
    this.#deliverCancel(position);
    throw new CancelledError(cancel.reason);
  }

  /**
   * At a step between attempts (its last one failed, or its breaker held the next back): tells the
   * workflow there of a cancellation it has not been told of, so no further attempt runs. Returns
   * the `CancelledError` for the step to throw, or undefined when there is none to tell.
   */
  cancelBetweenAttempts(position: number): CancelledError | undefined {
    const cancel = this.#cancel;
    if (!cancel || cancel.deliveredAt !== undefined) return undefined;
    this.#deliverCancel(position);
    return new CancelledError(cancel.reason);
  }

  /** Blocks the call at `position` until a signal, a cancellation or a later delivery ends it. */
  wait(position: number, what: WaitFor): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#waiting.set(position, { ...what, resolve, reject });
    });
  }

  /** Takes in signals and a cancellation that arrived while the run held the job, ending the waits they are for. */
  receive(inbox: readonly RecordedEvent[]): void {
    for (const { event } of inbox) {
      if (event.type === 'SignalReceived') {
        this.#signals.push({ signalId: event.signalId, name: event.name, payload: event.payload, receivedAt: event.receivedAt });
        const waiting = [...this.#waiting].sort(([a], [b]) => a - b).find(([, w]) => w.kind === 'wait' && w.name === event.name);
        if (waiting) {
          const [position, w] = waiting;
          this.#endWait(position);
          w.resolve(this.takeSignal(position, event.name));
        }
      } else if (event.type === 'ChildFinished') {
        const waiting = this.#waiting.get(event.position);
        if (waiting?.kind === 'child' && waiting.childJobId === event.childJobId) this.#endWait(event.position)?.resolve(event);
      } else if (event.type === 'CancelRequested' && !this.#cancel) {
        this.#cancel = { reason: event.reason, requestedAt: event.requestedAt };
        const first = [...this.#waiting.keys()].sort((a, b) => a - b)[0];
        if (first !== undefined) {
          this.#deliverCancel(first);
          this.#endWait(first)?.reject(new CancelledError(event.reason));
        }
      }
    }
  }

  #deliverCancel(position: number): void {
    this.#cancel = { ...(this.#cancel as CancelRequest), deliveredAt: position };
    this.#o.push({ type: 'CancelDelivered', position });
  }

  #endWait(position: number): Waiting | undefined {
    const waiting = this.#waiting.get(position);
    if (waiting) this.#waiting.delete(position);
    return waiting;
  }
}
