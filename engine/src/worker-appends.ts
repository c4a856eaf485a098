import { type AppendEvents, ENGINE_EVENTS, type IdFactory, type JobEvent, type JobState } from '@ratchet/protocol';
import type { EventStore } from '@ratchet/store';
import type { Logger } from 'pino';
import type { Dispatcher } from './dispatcher.ts';
import { expectRunning } from './job-conditions.ts';
import type { JobWriter, Written } from './job-writer.ts';
import { Refusal } from './refusal.ts';

export interface WorkerAppendsOptions {
  readonly writer: JobWriter;
  /** Reads the inbox events an append went around. */
  readonly store: Pick<EventStore, 'read'>;
  /** Sends a continued job's successor its first task. */
  readonly dispatcher: Pick<Dispatcher, 'dispatch'>;
  readonly clock: () => number;
  /** Makes successor job ids. */
  readonly ids: IdFactory;
  /** Effects of a committed append (the engine's). */
  readonly afterWrite: (written: Written) => void;
  readonly logger: Logger;
  /** Past this many events a job may only end (or continue as a new job). */
  readonly historyLimit: number;
  /** This engine's id, named in every reply (see `AppendEventsReply.engine`). */
  readonly engineId: string;
}

/**
 * Workers' appends: checked against the job's state (fencing stale epochs), warned of near the
 * history limit, and — for an ending by `continueAsNew` — committed with the successor's start.
 */
export class WorkerAppends {
  readonly #o: WorkerAppendsOptions;

  constructor(options: WorkerAppendsOptions) {
    this.#o = options;
  }

  /**
   * A worker's append. It must extend the job's last seq — or an earlier one when only inbox
   * events (signals, a cancellation) came in since: those are appended around, and the reply
   * hands them to the worker.
   */
  async append(command: AppendEvents): Promise<unknown> {
    if (command.events.at(-1)?.type === 'JobContinued') return lookingAgain(command, () => this.#continueJob(command));
    const written = await lookingAgain(command, () => this.#o.writer.write(command.jobId, (state) => this.#checkAppend(state, command)));
    this.#o.afterWrite(written);
    const near = Math.floor(this.#o.historyLimit * 0.8);
    if (written.before.lastSeq < near && written.after.lastSeq >= near) void this.#warnHistory(command.jobId);
    const lastSeq = written.after.lastSeq;
    const engine = this.#o.engineId;
    if (command.expectedSeq === written.before.lastSeq) return { lastSeq, engine };
    // Appended past inbox events the worker had not seen: hand them over.
    const inbox = (await this.#o.store.read(command.jobId, command.expectedSeq)).filter((e) => e.seq <= written.before.lastSeq);
    return { lastSeq, inbox, engine };
  }

  /** What a worker may append: checked against the job's state; refusals say why. */
  #checkAppend(state: JobState, command: AppendEvents): readonly JobEvent[] {
    expectRunning(state);
    if (command.epoch !== state.epoch) {
      throw new Refusal(
        'StaleEpochError',
        `epoch ${command.epoch} of job ${state.jobId} is stale: the job moved on to epoch ${state.epoch}`,
      );
    }
    if (command.expectedSeq > state.lastSeq || command.expectedSeq < state.lastActSeq) {
      throw new Refusal('SeqConflictError', `job ${state.jobId} is at seq ${state.lastSeq}, not ${command.expectedSeq}`);
    }
    const forbidden = command.events.find((event) => ENGINE_EVENTS.has(event.type));
    if (forbidden) throw new Refusal('EngineEventError', `${forbidden.type} is written by the engine only`);
    // Past the limit only an ending may be appended: a job that long must continue as a new one.
    const ending = command.events.length === 1 && ['JobFailed', 'JobCompleted', 'JobContinued'].includes(command.events[0]?.type ?? '');
    if (state.lastSeq + command.events.length > this.#o.historyLimit && !ending) {
      throw new Refusal(
        'HistoryLimitError',
        `job ${state.jobId} reached the history limit of ${this.#o.historyLimit} events; continue it as a new job`,
      );
    }
    return command.events;
  }

  /** Ends a job by continuing it as a new one: the ending and the successor's start commit together. */
  async #continueJob(command: AppendEvents): Promise<unknown> {
    const successorId = this.#o.ids();
    const last = command.events.at(-1) as Extract<JobEvent, { type: 'JobContinued' }>;
    const { ended, successor } = await this.#o.writer.writeWithSuccessor(
      command.jobId,
      (state) => [...this.#checkAppend(state, command).slice(0, -1), { ...last, nextJobId: successorId }],
      successorId,
      (endedState) => [
        {
          type: 'JobStarted',
          workflow: endedState.workflow,
          version: endedState.version,
          input: last.input,
          epoch: 1,
          startedAt: this.#o.clock(),
          ...(endedState.parent ? { parent: endedState.parent } : {}),
        },
        // Signals the ended job received and never took go on to its successor, in order: they
        // were accepted for this chain of jobs, and nothing would ever take them here.
        ...endedState.signals.flatMap(({ signalId, name, payload, receivedAt, takenBy }): JobEvent[] =>
          takenBy === undefined ? [{ type: 'SignalReceived', signalId, name, payload, receivedAt }] : [],
        ),
      ],
    );
    this.#o.afterWrite(ended);
    this.#o.afterWrite(successor);
    const history = successor.events.map((event, i) => ({ seq: i + 1, recordedAt: successor.after.updatedAt, event }));
    await this.#o.dispatcher.dispatch({ type: 'AdvanceJob', jobId: successorId, epoch: 1, history });
    return { lastSeq: ended.after.lastSeq, continuedAs: successorId };
  }

  /** Says in the job's log, once, that it nears the history limit (an inbox event, fencing no one). */
  async #warnHistory(jobId: string): Promise<void> {
    try {
      const written = await this.#o.writer.write(jobId, (state) =>
        state.status === 'running' ? [{ type: 'HistoryWarned', limit: this.#o.historyLimit, warnedAt: this.#o.clock() }] : [],
      );
      this.#o.afterWrite(written);
      this.#o.logger.warn({ jobId, limit: this.#o.historyLimit }, 'job nears its history limit');
    } catch (error) {
      this.#o.logger.warn({ err: error, jobId }, 'could not record the history warning');
    }
  }
}

/**
 * Runs a worker's append. A worker that extends seq > 0 of a job this engine cannot find has
 * seen its start: the engine that started it publishes the first task while the start commits,
 * so on another engine the append can arrive a moment before the start is visible. Look again a
 * few times (about 150 ms in all) before saying the job does not exist.
 */
async function lookingAgain<T>(command: AppendEvents, write: () => Promise<T>): Promise<T> {
  for (let wait = 10; ; wait *= 2) {
    try {
      return await write();
    } catch (error) {
      const unseen = error instanceof Refusal && error.name === 'JobNotFoundError' && command.expectedSeq > 0;
      if (!unseen || wait > 80) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
