import type { CancelJob, IdFactory, JobState, SignalJob } from '@ratchet/protocol';
import { expectRunning } from './job-conditions.ts';
import { type JobWriter, summarize, type Written } from './job-writer.ts';
import { Refusal } from './refusal.ts';

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
    const written = await this.#o.writer.write(command.jobId, (state) => {
      expectRunning(state, `cannot signal job ${command.jobId}`);
      return [{ type: 'SignalReceived', signalId, name: command.name, payload: command.payload, receivedAt: this.#o.clock() }];
    });
    this.#o.afterWrite(written);
    return { signalId };
  }

  /** A cancellation request (the workflow is told and may compensate), or a termination (it ends now). */
  async cancel(command: CancelJob): Promise<unknown> {
    const written = await this.#o.writer.write(command.jobId, (state) => {
      expectRunning(state, `cannot cancel job ${command.jobId}`);
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
