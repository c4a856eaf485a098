import { type AdvanceJob, encode, taskMessageId } from '@ratchet/protocol';
import type { TaskQueue, Transport } from '@ratchet/sdk/transport';
import type { EventStore } from '@ratchet/store';
import type { Logger } from 'pino';
import { hasOpenAttempt, isHeld } from './job-conditions.ts';
import type { JobWriter, Written } from './job-writer.ts';
import { takeOver } from './take-over.ts';

export interface DispatcherOptions {
  readonly transport: Transport;
  readonly queue: TaskQueue;
  readonly store: EventStore;
  readonly writer: JobWriter;
  readonly logger: Logger;
  readonly clock: () => number;
  /** Attempts left open at start are recorded as lost: no worker from before survived. */
  readonly workersRestartWithEngine: boolean;
  /** The recovery sweep runs this often, for jobs idle at least this long. */
  readonly recoveryIntervalMs: number;
  /** Effects of a committed append (the engine's): the sweep writes when it records lost attempts. */
  readonly afterWrite: (written: Written) => void;
}

/** A task carries the job's history only below this size; larger inputs are read by the worker. */
const INLINE_HISTORY_BYTES = 16 * 1024;

/** Sends `AdvanceJob` tasks to workers, and sweeps for running jobs left without one. */
export class Dispatcher {
  readonly #o: DispatcherOptions;
  #recovery: NodeJS.Timeout | undefined;

  constructor(options: DispatcherOptions) {
    this.#o = options;
  }

  /** Dispatches every runnable job again now, then sweeps every `recoveryIntervalMs`. */
  async start(): Promise<void> {
    await this.#redispatch();
    this.#recovery = setInterval(() => {
      this.#redispatch(this.#o.recoveryIntervalMs).catch((error: unknown) => this.#o.logger.error({ err: error }, 'recovery sweep failed'));
    }, this.#o.recoveryIntervalMs);
    this.#recovery.unref();
  }

  stop(): void {
    clearInterval(this.#recovery);
  }

  /** Publishes a task, trying again a few times: the message id makes a repeat harmless. */
  dispatch(task: AdvanceJob): Promise<void> {
    const payload = encode(task);
    if (task.history && payload.byteLength > INLINE_HISTORY_BYTES) {
      const { history: _omitted, ...bare } = task;
      return this.#publish(task, encode(bare));
    }
    return this.#publish(task, payload);
  }

  /**
   * Publishes `task` only if it goes out with its history (small enough), so that its worker
   * reads nothing before its first append; otherwise publishes nothing and returns undefined.
   */
  dispatchWithHistory(task: AdvanceJob): Promise<void> | undefined {
    const payload = encode(task);
    return task.history && payload.byteLength <= INLINE_HISTORY_BYTES ? this.#publish(task, payload) : undefined;
  }

  async #publish(task: AdvanceJob, payload: Uint8Array): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#o.transport.publishTask(this.#o.queue, payload, taskMessageId(task));
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
        this.#o.logger.warn({ err: error, jobId: task.jobId, attempt }, 'could not publish a task; trying again');
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      }
    }
  }

  /**
   * After a crash between commit and dispatch a job could wait forever: on start, every running
   * job that waits on no timer and has no attempt open is dispatched again at its epoch (a task
   * still queued has the same message id and is dropped as a duplicate). A job with an attempt
   * open has its task held by a worker, and the queue redelivers it if that worker dies — unless
   * workers run in this process (`workersRestartWithEngine`): then none survived, and the open
   * attempts are recorded as lost first.
   *
   * The same sweep runs every `recoveryIntervalMs` for jobs idle that long (a task publish that
   * failed for good, say), skipping jobs a worker holds.
   */
  async #redispatch(minIdleMs = 0): Promise<void> {
    const { store, writer, clock } = this.#o;
    const runnable = await store.listRunnableJobs(10_000);
    let dispatched = 0;
    for (const job of runnable) {
      let state = await writer.read(job.jobId);
      if (state.status !== 'running' || state.updatedAt > clock() - minIdleMs) continue;
      if (minIdleMs > 0 && isHeld(state)) continue;
      if (hasOpenAttempt(state)) {
        if (!this.#o.workersRestartWithEngine || minIdleMs > 0) continue;
        const written = await writer.write(job.jobId, (current) =>
          current.status === 'running' && hasOpenAttempt(current) ? takeOver(current, { worker: 'engine-restart' }, clock()) : [],
        );
        this.#o.afterWrite(written);
        state = written.after;
      }
      await this.dispatch({ type: 'AdvanceJob', jobId: job.jobId, epoch: state.epoch });
      dispatched++;
    }
    if (dispatched > 0) this.#o.logger.info({ jobs: dispatched }, 'dispatched running jobs again');
  }
}
