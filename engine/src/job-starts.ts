import { type AdvanceJob, type IdFactory, isFinished, MAX_TIME_MS, type StartJob } from '@ratchet/protocol';
import type { Logger } from 'pino';
import type { Dispatcher } from './dispatcher.ts';
import type { JobControl } from './job-control.ts';
import { type JobWriter, summarize, type Written } from './job-writer.ts';
import { Refusal } from './refusal.ts';
import type { WorkflowRegistry } from './workflow-registry.ts';

export interface JobStartsOptions {
  readonly writer: JobWriter;
  readonly dispatcher: Dispatcher;
  readonly registry: WorkflowRegistry;
  /** Tells a parent of a child that finished before the parent heard. */
  readonly control: JobControl;
  readonly clock: () => number;
  readonly ids: IdFactory;
  readonly logger: Logger;
  /** Effects of a committed append (the engine's). */
  readonly afterWrite: (written: Written) => void;
}

/**
 * `StartJob`: a new job (or a new run of a failed one), or the existing job under that id, as
 * the start policy says; and the first task of what it started.
 */
export class JobStarts {
  readonly #o: JobStartsOptions;

  constructor(options: JobStartsOptions) {
    this.#o = options;
  }

  async start(command: StartJob): Promise<unknown> {
    const jobId = command.jobId ?? this.#o.ids();
    const known = this.#o.registry.known();
    // The first task of a job whose id no other job can have goes out while its start commits:
    // its worker's first append then waits on the job's lock for the commit instead of the
    // publish waiting for it (about a third of a millisecond off start → result). Should the
    // commit fail, the task names a job that does not exist, and workers drop it. (For an id that
    // may exist, a task sent before the engine knows would carry a start that never happened.)
    const fresh = command.jobId === undefined || command.freshId === true;
    let publishing: Promise<void> | undefined;
    const beforeCommit = ({ before, after, events }: Written) => {
      if (!fresh || before.status !== 'new') return;
      const history = events.map((event, i) => ({ seq: i + 1, recordedAt: after.updatedAt, event }));
      const task: AdvanceJob = { type: 'AdvanceJob', jobId, epoch: after.epoch, history };
      // Only with its history inline: a worker that had to read the job first could ask another
      // engine, which may not see the start yet (appends look again; reads do not).
      publishing = this.#o.dispatcher.dispatchWithHistory(task);
      publishing?.catch(() => {}); // awaited below; not unhandled meanwhile
    };
    const written = await this.#o.writer
      .write(
        jobId,
        (state) => {
          if (state.status !== 'new') {
            if (state.workflow !== command.workflow) {
              throw new Refusal(
                'JobIdConflictError',
                `job ${jobId} exists and runs workflow "${state.workflow}", not "${command.workflow}"`,
              );
            }
            if (command.onExisting === 'reject') throw new Refusal('JobExistsError', `job ${jobId} exists already (${state.status})`);
            const rerun = command.onExisting === 'new-run-if-failed' && (state.status === 'failed' || state.status === 'cancelled');
            if (!rerun) return [];
          }
          if (known && !known.has(command.workflow)) {
            throw new Refusal(
              'UnknownWorkflowError',
              `no running worker has workflow "${command.workflow}" (known: ${[...known].sort().join(', ') || 'none'})`,
            );
          }
          const startedAt = this.#o.clock();
          const deadline = command.timeoutMs === undefined ? undefined : startedAt + command.timeoutMs;
          // A deadline past the latest time the log holds would be written, then refused by
          // every reader of the log (`ratchet replay --file` of its export); 0 fails the job at once.
          if (command.timeoutMs !== undefined && (command.timeoutMs < 1 || (deadline as number) > MAX_TIME_MS)) {
            throw new Refusal(
              'InvalidTimeoutError',
              `timeout ${command.timeoutMs} ms must be at least 1 ms and end by the latest time the log holds (${MAX_TIME_MS} ms since 1970, ${MAX_TIME_MS - startedAt} ms from now)`,
            );
          }
          return [
            {
              type: 'JobStarted',
              workflow: command.workflow,
              version: command.version ?? '',
              input: command.input,
              epoch: state.epoch + 1,
              startedAt,
              ...(command.parent ? { parent: command.parent } : {}),
              ...(deadline === undefined ? {} : { deadline }),
            },
          ];
        },
        { assumeNew: true, beforeCommit },
      )
      .catch(async (error: unknown) => {
        await publishing?.catch(() => {});
        throw error;
      });
    const created = written.events.length > 0;
    this.#o.afterWrite(written);
    if (created) {
      this.#o.logger.debug({ jobId, workflow: command.workflow }, 'job started');
      const { before, after } = written;
      if (publishing) await publishing;
      else {
        const history = written.events.map((event, i) => ({ seq: before.lastSeq + i + 1, recordedAt: after.updatedAt, event }));
        // A new run of an old job: the worker reads its whole log.
        await this.#o.dispatcher.dispatch({
          type: 'AdvanceJob',
          jobId,
          epoch: after.epoch,
          ...(before.status === 'new' ? { history } : {}),
        });
      }
    } else if (isFinished(written.after) && written.after.parent) {
      // A child that finished before its parent heard (an engine stopped in between): tell it now.
      await this.#o.control.notifyParent(written.after);
    } else if (written.after.status === 'running' && written.after.lastSeq === 1) {
      // Started before, but its first task may never have gone out (the publish failed after the
      // commit): send it again; if it did go out, the queue drops this one as a duplicate.
      await this.#o.dispatcher.dispatch({ type: 'AdvanceJob', jobId, epoch: written.after.epoch });
    }
    return { jobId, created, job: summarize(written.after) };
  }
}
