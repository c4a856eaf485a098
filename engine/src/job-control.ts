import type { CancelJob, IdFactory, JobEvent, JobState, SignalJob } from '@ratchet/protocol';
import { expectRunning } from './job-conditions.ts';
import { type JobWriter, summarize, type Written } from './job-writer.ts';
import { Refusal } from './refusal.ts';

/** Continuations a signal or cancellation follows at most (a bound on a broken chain, not a limit a real one meets). */
const MAX_CONTINUATIONS = 10_000;

export interface JobControlOptions {
  readonly writer: JobWriter;
  readonly clock: () => number;
  /** Makes signal ids. */
  readonly ids: IdFactory;
  /** Effects of a committed append (the engine's). */
  readonly afterWrite: (written: Written) => void;
}

/**
 * What reaches a job from outside its workflow: signals, cancellations (which cascade to the
 * children that go with their parent), and a finished child's outcome for its parent.
 */
export class JobControl {
  readonly #o: JobControlOptions;

  constructor(options: JobControlOptions) {
    this.#o = options;
  }

  async signal(command: SignalJob): Promise<unknown> {
    const signalId = this.#o.ids();
    const written = await this.#writeToLatest(command.jobId, (state) => {
      expectRunning(state, `cannot signal job ${state.jobId}`);
      return [{ type: 'SignalReceived', signalId, name: command.name, payload: command.payload, receivedAt: this.#o.clock() }];
    });
    this.#o.afterWrite(written);
    return { signalId, jobId: written.after.jobId };
  }

  /**
   * Writes what `decide` says to the job — or, when it continued as new, to the run that carries
   * it on now (following the chain, as `result()` does): a signal or a cancellation meant for a
   * long-running process must not be refused because it moved to a new job id.
   */
  async #writeToLatest(jobId: string, decide: (state: JobState) => readonly JobEvent[]): Promise<Written> {
    for (let hops = 0; ; hops++) {
      let next: string | undefined;
      const written = await this.#o.writer.write(jobId, (state) => {
        next = undefined;
        if (state.status === 'continued' && state.continuedAs !== undefined && hops < MAX_CONTINUATIONS) {
          next = state.continuedAs;
          return [];
        }
        return decide(state);
      });
      if (next === undefined) return written;
      jobId = next;
    }
  }

  /** A cancellation request (the workflow is told and may compensate), or a termination (it ends now). */
  async cancel(command: CancelJob): Promise<unknown> {
    const written = await this.#writeToLatest(command.jobId, (state) => {
      expectRunning(state, `cannot cancel job ${state.jobId}`);
      const now = this.#o.clock();
      if (command.terminate) return [{ type: 'JobCancelled', reason: command.reason, terminated: true, cancelledAt: now }];
      return state.cancel ? [] : [{ type: 'CancelRequested', reason: command.reason, requestedAt: now }];
    });
    this.#o.afterWrite(written);
    await this.cancelChildren(written.before, command);
    return summarize(written.after);
  }

  /**
   * Children go with their parent — when it is cancelled or terminated, and when it ends before
   * them (its workflow returned or failed, its execution timeout passed, it continued as new):
   * nothing would ever take their outcome. Not those started with cancelWithParent: false.
   */
  async cancelChildren(parent: JobState, command: Omit<CancelJob, 'jobId' | 'type'>): Promise<void> {
    for (const entry of parent.journal) {
      if (entry.kind !== 'child' || entry.finished || !entry.cancelWithParent) continue;
      await this.cancel({ type: 'CancelJob', ...command, jobId: entry.childJobId }).catch((error: unknown) => {
        if (!(error instanceof Refusal)) throw error;
      });
    }
  }

  /** Puts a finished child's outcome in its parent's inbox (once). */
  async notifyParent(child: JobState): Promise<void> {
    const parent = child.parent;
    if (!parent) return;
    const written = await this.#o.writer.write(parent.jobId, (state) => {
      const entry = state.journal[parent.position];
      if (state.status !== 'running' || entry?.kind !== 'child' || entry.finished || entry.childJobId !== child.jobId) return [];
      return [
        {
          type: 'ChildFinished',
          position: parent.position,
          childJobId: child.jobId,
          status: child.status as 'completed' | 'failed' | 'cancelled',
          ...(child.output === undefined ? {} : { output: child.output }),
          ...(child.failure === undefined ? {} : { failure: child.failure }),
          finishedAt: child.finishedAt ?? this.#o.clock(),
        },
      ];
    });
    this.#o.afterWrite(written);
  }
}
